"""Insight queries over the answer log and the votes, for one guild or all of them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from curation.db.models import AnswerLog, ReviewCard, Vote
from curation.db.records import DayCounts, Stats


async def compute_stats(
    session: AsyncSession, guild_id: int | None, since: datetime, until: datetime | None = None, top: int = 5
) -> Stats:
    logged = _period(AnswerLog.at, AnswerLog.guild_id, guild_id, since, until)
    voted = _period(Vote.at, Vote.guild_id, guild_id, since, until)
    questions, refused, ungrounded, faq_hits = await _counts(session, logged)
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
        faq_hits=faq_hits,
        daily=await _daily(session, logged, voted),
        open_review_cards=await _open_review_cards(session, guild_id),
    )


async def _open_review_cards(session: AsyncSession, guild_id: int | None) -> int:
    """The review queue's backlog as it stands (curation.review): not limited to the period, since a card opened
    last month and still open is still work to do."""
    query = select(func.count()).where(ReviewCard.status == "open")
    if guild_id is not None:
        query = query.where(ReviewCard.guild_id == guild_id)
    return int(await session.scalar(query) or 0)


def _period(
    at: Any, guild_column: Any, guild_id: int | None, since: datetime, until: datetime | None
) -> list[ColumnElement[bool]]:
    where = [at >= since]
    if until is not None:
        where.append(at < until)
    if guild_id is not None:
        where.append(guild_column == guild_id)
    return where


async def _counts(session: AsyncSession, where: list[ColumnElement[bool]]) -> tuple[int, int, int, int]:
    refused = case((AnswerLog.refused.is_(True), 1), else_=0)
    ungrounded = case((and_(AnswerLog.refused.is_(False), AnswerLog.grounded.is_(False)), 1), else_=0)
    faq = case((AnswerLog.mode == "faq", 1), else_=0)
    query = select(func.count(), func.sum(refused), func.sum(ungrounded), func.sum(faq)).where(*where)
    row = (await session.execute(query)).one()
    return int(row[0]), int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)


def _day(session: AsyncSession, at: Any) -> Any:
    """The UTC day of a timestamp column, grouped on in SQL. SQLite stores UTC text ("2026-12-01 17:43:45…"),
    whose date() is the day; PostgreSQL's timestamptz is taken to UTC first, whatever the session's zone."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", at))
    return func.date(at)


async def _daily(
    session: AsyncSession, logged: list[ColumnElement[bool]], voted: list[ColumnElement[bool]]
) -> tuple[DayCounts, ...]:
    # Each question's one outcome on the chart: the first test that holds decides.
    outcome = case(
        (AnswerLog.refused.is_(True), "refused"),
        (AnswerLog.mode == "faq", "faq"),
        (AnswerLog.grounded.is_(False), "uncited"),
        else_="cited",
    )
    day = _day(session, AnswerLog.at)
    days: dict[date, dict[str, int]] = {}
    answers = select(day, outcome, func.count()).where(*logged).group_by(day, outcome)
    for when, kind, n in await session.execute(answers):
        days.setdefault(_as_date(when), {})[str(kind)] = int(n)
    vote_day = _day(session, Vote.at)
    votes = select(vote_day, Vote.vote, func.count()).where(*voted).group_by(vote_day, Vote.vote)
    for when, vote, n in await session.execute(votes):
        days.setdefault(_as_date(when), {})["up" if int(vote) > 0 else "down"] = int(n)
    return tuple(DayCounts(d, **counts) for d, counts in sorted(days.items()))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


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
