"""The database the bot's moderator features use: FAQ entries, votes, the answer log, insight, export/import.

Every write is one transaction. Everything a guild owns is read and changed only with its guild id in the
query, so one guild can never see or edit another's entries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

from pydantic import SecretStr
from sqlalchemy import case, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from curation.db import schema, transfer
from curation.db.background import BackgroundWrites
from curation.db.engine import WRITE_OPTION, create_engine, describe, is_sqlite, parse_url
from curation.db.models import AnswerLog, FaqEntry, Vote
from curation.db.records import (
    CitedSource,
    FaqRecord,
    Stats,
    StoredAnswer,
    citations_to_json,
    cited_sources_to_json,
    question_key,
)
from curation.db.rows import faq_record, new_entry, stored_answer
from curation.db.stats import compute_stats
from curation.faq import validate_faq
from rag.errors import DatabaseError
from rag.text import clean_text
from rag.types import Answer, Citation

log = logging.getLogger(__name__)

SQLITE_FILE = "ragbot.sqlite3"


class _Keep(Enum):
    KEEP = "keep"


# update_faq's "leave this field as it is" (None there means "clear it").
KEEP: Final = _Keep.KEEP


def resolve_url(data_dir: Path, url: SecretStr | str | None = None) -> str:
    """The configured URL (DatabaseSettings.url), or SQLite in the data dir when none is set."""
    if isinstance(url, SecretStr):
        url = url.get_secret_value()
    return url or f"sqlite+aiosqlite:///{data_dir / SQLITE_FILE}"


def _now() -> datetime:
    return datetime.now(UTC)


def _clean(text: str) -> str:
    """PostgreSQL text cannot hold NUL and no database encodes a lone surrogate; a question or answer carrying
    one must not lose the whole log entry."""
    return clean_text(text)


class Database:
    """Open with `await Database.open(url)` (or `async with await Database.open(url) as db:`); close() at exit."""

    def __init__(self, engine: AsyncEngine, url: URL) -> None:
        self._engine = engine
        self.name = describe(url)
        self.dialect = engine.dialect.name
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = async_sessionmaker(engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False)
        # SQLite has one writer at a time anyway; queueing here is cheaper than spinning on the file lock.
        # Other processes on the same file still wait through the busy timeout.
        self._write_lock: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if is_sqlite(url) else contextlib.nullcontext()
        )
        self._background = BackgroundWrites()

    @classmethod
    async def open(cls, url: str, *, echo: bool = False) -> Database:
        """Check the schema and upgrade it to this code's version, then connect. Raises DatabaseError (a corrupt
        file, another program's database, a schema from a newer ragbot, an unreachable server)."""
        parsed = parse_url(url)
        await schema.prepare(parsed, echo=echo)
        db = cls(create_engine(parsed, echo=echo), parsed)
        log.info("database %s ready (%s)", db.name, db.dialect)
        return db

    async def close(self) -> None:
        """Finish the background writes (FAQ uses), then close the connections."""
        await self.flush()
        await self._engine.dispose()

    async def flush(self) -> None:
        """Wait until the background writes started so far are stored."""
        await self._background.drain()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._failures():
            async with self._write_lock, self._writes.begin() as session:
                yield session

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncSession]:
        with self._failures():
            async with self._reads() as session:
                yield session

    def transaction(self, *, write: bool = False) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """One transaction for stores kept in modules of their own (curation.review), with the same write
        queueing and one-line errors as the methods here."""
        return self._writing() if write else self._reading()

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        """Driver failures (server gone, file locked past the busy timeout) become one DatabaseError line."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise DatabaseError(f"database {self.name}: {getattr(exc, 'orig', None) or exc}") from exc

    # --- FAQ entries ------------------------------------------------------------------------------------
    async def add_faq(
        self,
        guild_id: int,
        question: str,
        answer: str,
        *,
        author_id: int,
        citations: Sequence[Citation] = (),
        channel_id: int | None = None,
        message_id: int | None = None,
        review_by: date | None = None,
        cited_sources: Sequence[CitedSource] | None = None,
    ) -> FaqRecord:
        """A new entry; UserFacingError when the text is unusable (empty, too long, mass mentions).
        `cited_sources`: the versions of the sources its citations quote (curation.freshness.cited_sources)."""
        question, answer = validate_faq(question, answer)
        now = _now()
        entry = FaqEntry(
            guild_id=guild_id,
            question=question,
            answer=answer,
            citations=citations_to_json(citations),
            author_id=author_id,
            created_at=now,
            updated_at=now,
            channel_id=channel_id,
            message_id=message_id,
            pinned_message_id=None,
            use_count=0,
            review_by=review_by,
            cited_sources=cited_sources_to_json(cited_sources),
        )
        async with self._writing() as session:
            session.add(entry)
            await session.flush()
            return faq_record(entry)

    async def update_faq(
        self,
        faq_id: int,
        guild_id: int,
        *,
        question: str | None = None,
        answer: str | None = None,
        citations: Sequence[Citation] | None = None,
        cited_sources: Sequence[CitedSource] | None = None,
        review_by: date | Literal[_Keep.KEEP] | None = KEEP,
    ) -> FaqRecord | None:
        """The edited entry, or None when the guild has no entry with that id. Fields left None are kept, but
        `review_by`: KEEP keeps it, None clears it."""
        async with self._writing() as session:
            entry = await session.scalar(_guild_entry(faq_id, guild_id))
            if entry is None:
                return None
            entry.question, entry.answer = validate_faq(
                entry.question if question is None else question, entry.answer if answer is None else answer
            )
            if citations is not None:
                entry.citations = citations_to_json(citations)
            if cited_sources is not None:
                entry.cited_sources = cited_sources_to_json(cited_sources)
            if review_by is not KEEP:
                entry.review_by = review_by
            entry.updated_at = _now()
            await session.flush()
            return faq_record(entry)

    async def record_faq_use(self, faq_id: int, guild_id: int, at: datetime | None = None) -> bool:
        """Count one question the entry answered, at `at` (default: now). One UPDATE, so answers at once never
        lose a count; `updated_at` stays (it marks edits, and FaqMatcher keys its vectors on it)."""
        at = at or _now()
        last = FaqEntry.last_used_at
        latest = case((last.is_(None), at), (last < at, at), else_=last)  # uses recorded out of order
        query = (
            update(FaqEntry)
            .where(FaqEntry.id == faq_id, FaqEntry.guild_id == guild_id)
            .values(use_count=FaqEntry.use_count + 1, last_used_at=latest)
            .returning(FaqEntry.id)
        )
        async with self._writing() as session:
            return await session.scalar(query) is not None

    def note_faq_use(self, faq_id: int, guild_id: int) -> None:
        """record_faq_use in the background: the answer is not held up by the write; close() waits for it."""
        at = _now()
        self._background.start(f"a use of FAQ entry {faq_id}", lambda: self.record_faq_use(faq_id, guild_id, at))

    async def set_pinned_message(self, faq_id: int, guild_id: int, message_id: int | None) -> bool:
        """Remember (or forget) the message posted for an entry; False when the guild has no such entry."""
        query = (
            update(FaqEntry)
            .where(FaqEntry.id == faq_id, FaqEntry.guild_id == guild_id)
            .values(pinned_message_id=message_id)
            .returning(FaqEntry.id)
        )
        async with self._writing() as session:
            return await session.scalar(query) is not None

    async def remove_faq(self, faq_id: int, guild_id: int) -> bool:
        query = delete(FaqEntry).where(FaqEntry.id == faq_id, FaqEntry.guild_id == guild_id).returning(FaqEntry.id)
        async with self._writing() as session:
            return await session.scalar(query) is not None

    async def get_faq(self, faq_id: int, guild_id: int) -> FaqRecord | None:
        async with self._reading() as session:
            entry = await session.scalar(_guild_entry(faq_id, guild_id))
            return faq_record(entry) if entry is not None else None

    async def list_faqs(self, guild_id: int, offset: int = 0, limit: int = 20) -> tuple[list[FaqRecord], int]:
        """One page of the guild's entries, oldest first, and how many it has in all."""
        query = select(FaqEntry).where(FaqEntry.guild_id == guild_id).order_by(FaqEntry.id)
        async with self._reading() as session:
            total = await session.scalar(select(func.count()).where(FaqEntry.guild_id == guild_id))
            entries = await session.scalars(query.offset(max(offset, 0)).limit(max(limit, 0)))
            return [faq_record(e) for e in entries], int(total or 0)

    async def faqs_for_guild(self, guild_id: int) -> list[FaqRecord]:
        """All of one guild's entries: what FaqMatcher.match is given for that guild's questions."""
        async with self._reading() as session:
            entries = await session.scalars(select(FaqEntry).where(FaqEntry.guild_id == guild_id).order_by(FaqEntry.id))
            return [faq_record(e) for e in entries]

    # --- votes and the answer log -----------------------------------------------------------------------------
    async def record_vote(self, answer_id: str, user_id: int, up: bool, guild_id: int | None) -> None:
        """One vote per user and answer; voting again replaces it. A single upsert statement, so concurrent
        clicks never lose a vote or count one twice."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        values = {"answer_id": answer_id, "user_id": user_id, "vote": 1 if up else -1, "guild_id": guild_id}
        statement = insert(Vote).values(**values, at=_now())
        statement = statement.on_conflict_do_update(
            index_elements=[Vote.answer_id, Vote.user_id],
            set_={"vote": statement.excluded.vote, "at": statement.excluded.at},
        )
        async with self._writing() as session:
            await session.execute(statement)

    async def votes(self, answer_id: str) -> tuple[int, int]:
        """(👍, 👎) for one answer."""
        query = select(Vote.vote, func.count()).where(Vote.answer_id == answer_id).group_by(Vote.vote)
        async with self._reading() as session:
            counts = {int(vote): int(n) for vote, n in await session.execute(query)}
        return counts.get(1, 0), counts.get(-1, 0)

    async def log_answer(
        self,
        answer_id: str,
        question: str,
        answer: Answer,
        *,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int,
        latency_ms: int,
        faq_id: int | None = None,
    ) -> None:
        """Record an answer as given (an FAQ answer passes the entry's id and an Answer with mode "faq")."""
        usage = answer.usage
        row = AnswerLog(
            answer_id=answer_id,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            question=_clean(question),
            question_key=question_key(_clean(question)),
            answer=_clean(answer.text),
            citations=citations_to_json(answer.citations),
            refused=answer.refused,
            grounded=answer.grounded,
            mode=answer.mode,
            model=answer.model,
            latency_ms=max(int(latency_ms), 0),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            faq_id=faq_id,
            at=_now(),
        )
        async with self._writing() as session:
            session.add(row)

    async def tokens_since(self, guild_id: int | None, since: datetime) -> int:
        """Prompt + completion tokens of the guild's (None: every guild's) logged answers from `since` on: its
        model spend (the core's `TokenLedger`). Follow-up rewrites are short and not logged: not counted."""
        total = func.coalesce(func.sum(AnswerLog.prompt_tokens + AnswerLog.completion_tokens), 0)
        query = select(total).where(AnswerLog.at >= since)
        if guild_id is not None:
            query = query.where(AnswerLog.guild_id == guild_id)
        async with self._reading() as session:
            return int(await session.scalar(query) or 0)

    async def ping(self) -> None:
        """Raises DatabaseError when the database cannot be reached (a readiness check)."""
        async with self._reading() as session:
            await session.execute(select(1))

    async def get_answer(self, answer_id: str, *, guild_id: int | None) -> StoredAnswer | None:
        """A logged answer, only where it was given (guild_id None: a DM); None when unknown there."""
        where = AnswerLog.guild_id.is_(None) if guild_id is None else AnswerLog.guild_id == guild_id
        async with self._reading() as session:
            row = await session.scalar(select(AnswerLog).where(AnswerLog.answer_id == answer_id, where))
            return stored_answer(row) if row is not None else None

    async def stats(
        self, guild_id: int | None, since: datetime, until: datetime | None = None, *, top: int = 5
    ) -> Stats:
        """Insight from `since` (up to `until`) for one guild, or every guild when guild_id is None."""
        async with self._reading() as session:
            return await compute_stats(session, guild_id, since, until, top)

    # --- export / import --------------------------------------------------------------------------------
    async def export_faqs(self, guild_id: int | None) -> list[dict[str, Any]]:
        """JSON-ready entries of one guild (or all, for a backup), each marked `"format": 1`."""
        query = select(FaqEntry).order_by(FaqEntry.guild_id, FaqEntry.id)
        if guild_id is not None:
            query = query.where(FaqEntry.guild_id == guild_id)
        async with self._reading() as session:
            return [transfer.export_entry(faq_record(e)) for e in await session.scalars(query)]

    async def import_faqs(self, entries: object, guild_id: int, author_id: int) -> int:
        """Add exported entries (a list of dicts, as json.load gives it) to a guild, all or none: every entry is
        validated first (UserFacingError names the first bad one). The importer becomes the author; entries the
        guild already has (same question and answer) are skipped. Returns how many were added."""
        parsed = transfer.parse_entries(entries)
        now = _now()
        async with self._writing() as session:
            await self._lock_guild_faqs(session, guild_id)
            existing = await session.execute(
                select(FaqEntry.question, FaqEntry.answer).where(FaqEntry.guild_id == guild_id)
            )
            seen = {(question_key(q), a) for q, a in existing}
            added = 0
            for item in parsed:
                if item.key in seen:
                    continue
                seen.add(item.key)
                session.add(new_entry(guild_id, author_id, item, now))
                added += 1
        log.info("imported %d FAQ entries into guild %d (%d skipped)", added, guild_id, len(parsed) - added)
        return added

    async def _lock_guild_faqs(self, session: AsyncSession, guild_id: int) -> None:
        """Make "entries already there are skipped" hold when imports run at once. SQLite writers already hold
        the file's write lock from BEGIN IMMEDIATE; PostgreSQL reads committed rows only, so two imports would
        each see none of the other's entries: a transaction-scoped advisory lock per guild serialises them.
        (A lock rather than a unique index: existing databases may already hold duplicate questions, and a
        moderator may keep two answers to one question.)"""
        if self.dialect == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:space, :key)"),
                {"space": _FAQ_IMPORT_LOCK, "key": guild_id & 0x7FFFFFFF},
            )


# The advisory-lock namespace of FAQ imports ("RAG" in ASCII); the key within it is the guild id's low 31 bits.
_FAQ_IMPORT_LOCK = 0x524147


def _guild_entry(faq_id: int, guild_id: int) -> Any:
    return select(FaqEntry).where(FaqEntry.id == faq_id, FaqEntry.guild_id == guild_id)
