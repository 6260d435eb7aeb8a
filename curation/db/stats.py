"""Insight queries over the answer log and the votes, for one guild or all of them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from curation.db.models import AnswerLog, Vote
from curation.db.records import Stats


async def compute_stats(
    session: AsyncSession, guild_id: int | None, since: datetime, until: datetime | None = None, top: int = 5
) -> Stats:
    logged = _period(AnswerLog.at, AnswerLog.guild_id, guild_id, since, until)
    voted = _period(Vote.at, Vote.guild_id, guild_id, since, until)
    questions, refused, ungrounded = await _counts(session, logged)
    up, down = await _vote_counts(session, voted)
    median, p95 = await _latency(session, logged)
    return Stats(
        since=since,
        until=until,
        questions=questions,
        refused=refused,
        ungrounded=ungrounded,
        up=up,
        down=down,
        median_latency_ms=median,
        p95_latency_ms=p95,
        top_refused=await _top_questions(session, logged, top, downvoted=False),
        top_downvoted=await _top_questions(session, voted, top, downvoted=True),
    )


def _period(
    at: Any, guild_column: Any, guild_id: int | None, since: datetime, until: datetime | None
) -> list[ColumnElement[bool]]:
    where = [at >= since]
    if until is not None:
        where.append(at < until)
    if guild_id is not None:
        where.append(guild_column == guild_id)
    return where


async def _counts(session: AsyncSession, where: list[ColumnElement[bool]]) -> tuple[int, int, int]:
    refused = case((AnswerLog.refused.is_(True), 1), else_=0)
    ungrounded = case((and_(AnswerLog.refused.is_(False), AnswerLog.grounded.is_(False)), 1), else_=0)
    row = (await session.execute(select(func.count(), func.sum(refused), func.sum(ungrounded)).where(*where))).one()
    return int(row[0]), int(row[1] or 0), int(row[2] or 0)


async def _vote_counts(session: AsyncSession, where: list[ColumnElement[bool]]) -> tuple[int, int]:
    rows = await session.execute(select(Vote.vote, func.count()).where(*where).group_by(Vote.vote))
    counts = {int(vote): int(n) for vote, n in rows}
    return counts.get(1, 0), counts.get(-1, 0)


async def _latency(session: AsyncSession, where: list[ColumnElement[bool]]) -> tuple[float | None, float | None]:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        column = AnswerLog.latency_ms
        query = select(
            func.percentile_cont(0.5).within_group(column), func.percentile_cont(0.95).within_group(column)
        ).where(*where)
        median, p95 = (await session.execute(query)).one()
        return (None, None) if median is None else (float(median), float(p95))
    # SQLite has no percentile function: sort the period's latencies here (integers, cheap to move).
    values = list(await session.scalars(select(AnswerLog.latency_ms).where(*where).order_by(AnswerLog.latency_ms)))
    return percentile(values, 0.5), percentile(values, 0.95)


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont (and numpy's default)."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


async def _top_questions(
    session: AsyncSession, where: list[ColumnElement[bool]], top: int, *, downvoted: bool
) -> tuple[tuple[str, int], ...]:
    """The most frequent questions (folded case and spaces) among refused answers, or among 👎 votes."""
    times = func.count().label("times")
    query = select(func.min(AnswerLog.question), times)
    if downvoted:
        query = query.select_from(Vote).join(AnswerLog, AnswerLog.answer_id == Vote.answer_id)
        query = query.where(*where, Vote.vote == -1)
    else:
        query = query.where(*where, AnswerLog.refused.is_(True))
    query = query.group_by(AnswerLog.question_key).order_by(times.desc(), AnswerLog.question_key).limit(top)
    return tuple((str(q), int(n)) for q, n in await session.execute(query))
