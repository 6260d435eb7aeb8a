"""FAQ freshness in storage, on SQLite and PostgreSQL: uses counted from answers, the review date, cited sources'
versions, the FAQ hits and days of the stats, export/import of the new fields, and the upgrade from 0001."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from curation.db import Database
from curation.db.database import KEEP
from curation.db.records import CitedSource
from curation.db.schema import alembic_config, current_revision, head_revision
from curation.faq import FaqBook, FaqMatcher
from curation.review import ReviewQueue, Sighting
from rag.errors import UserFacingError
from rag.types import Answer, Citation

GUILD_A, GUILD_B = 111_111_111_111_111_111, 222_222_222_222_222_222
CITATION = Citation(1, "deepseek#0", "DeepSeek's founder", "https://example.org/a", "2025-01-27", "Origins", "Liang…")
SOURCE = CitedSource("deepseek", "sha256:aaaa", "DeepSeek's founder")
FOUNDER = "Who founded DeepSeek?"


async def test_uses_are_counted_atomically_and_only_in_the_entrys_guild(db: Database) -> None:
    entry = await db.add_faq(GUILD_A, FOUNDER, "Liang Wenfeng.", author_id=7)
    assert (entry.use_count, entry.last_used_at) == (0, None)
    base = datetime(2026, 11, 1, 12, tzinfo=UTC)
    moments = [base + timedelta(minutes=m) for m in range(40)]
    # Forty answers at once, finishing in any order: every one counts, and the latest moment wins.
    done = await asyncio.gather(*(db.record_faq_use(entry.id, GUILD_A, at) for at in reversed(moments)))
    assert all(done)
    assert await db.record_faq_use(entry.id, GUILD_B) is False  # another guild cannot touch it
    stored = await db.get_faq(entry.id, GUILD_A)
    assert stored is not None and stored.use_count == 40 and stored.last_used_at == moments[-1]
    assert stored.updated_at == entry.updated_at  # a use is not an edit


async def test_an_faq_answer_is_counted_and_the_count_survives_closing_at_once(db_url: str) -> None:
    db = await Database.open(db_url)
    entry = await db.add_faq(GUILD_A, FOUNDER, "Liang Wenfeng.", author_id=7)
    book = FaqBook(db, None, 0.8)  # word overlap only: no model needed to match the same question
    found = await book.find(FOUNDER, GUILD_A)
    assert found is not None and found.id == entry.id
    assert await book.find("What is the weather?", GUILD_A) is None
    await db.close()  # straight after the answer: the pending write is finished, not dropped

    db = await Database.open(db_url)
    try:
        stored = await db.get_faq(entry.id, GUILD_A)
        assert stored is not None and stored.use_count == 1 and stored.last_used_at is not None
    finally:
        await db.close()


async def test_review_date_and_cited_sources_are_kept_changed_and_cleared(db: Database) -> None:
    entry = await db.add_faq(
        GUILD_A, FOUNDER, "Liang Wenfeng.", author_id=7, citations=[CITATION],
        review_by=date(2027, 3, 31), cited_sources=[SOURCE],
    )  # fmt: skip
    assert (entry.review_by, entry.cited_sources) == (date(2027, 3, 31), (SOURCE,))

    kept = await db.update_faq(entry.id, GUILD_A, answer="Liang Wenfeng, in 2023.")
    assert kept is not None and (kept.review_by, kept.cited_sources) == (date(2027, 3, 31), (SOURCE,))
    newer = CitedSource("deepseek", "sha256:bbbb", "DeepSeek's founder")
    moved = await db.update_faq(entry.id, GUILD_A, review_by=date(2028, 1, 2), cited_sources=[newer])
    assert moved is not None and (moved.review_by, moved.cited_sources) == (date(2028, 1, 2), (newer,))
    cleared = await db.update_faq(entry.id, GUILD_A, review_by=None)
    assert cleared is not None and cleared.review_by is None
    again = await db.update_faq(entry.id, GUILD_A, question="Who set up DeepSeek?", review_by=KEEP)
    assert again is not None and again.review_by is None and again.question == "Who set up DeepSeek?"


async def test_stats_count_faq_hits_and_each_days_outcomes(db: Database) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)

    async def log(answer_id: str, mode: str = "generative", *, refused: bool = False, grounded: bool = True) -> None:
        answer = Answer("text", (CITATION,) if grounded else (), grounded, refused, mode)  # type: ignore[arg-type]
        await db.log_answer(answer_id, "q", answer, guild_id=GUILD_A, channel_id=1, user_id=2, latency_ms=10)

    await log("f1", "faq")
    await log("f2", "faq")
    await log("c1")
    await log("u1", grounded=False)
    await log("r1", refused=True, grounded=False)
    await db.record_vote("c1", 5, up=True, guild_id=GUILD_A)
    await db.record_vote("u1", 5, up=False, guild_id=GUILD_A)
    await db.record_vote("u1", 6, up=False, guild_id=GUILD_A)

    stats = await db.stats(GUILD_A, since)
    assert (stats.questions, stats.faq_hits, stats.faq_rate) == (5, 2, 0.4)
    [today] = stats.daily
    assert today.day == datetime.now(UTC).date()
    assert (today.cited, today.faq, today.uncited, today.refused, today.up, today.down) == (1, 2, 1, 1, 1, 2)
    assert (await db.stats(GUILD_B, since)).daily == ()


async def test_export_and_import_carry_the_new_fields_and_old_files_still_import(db: Database) -> None:
    entry = await db.add_faq(
        GUILD_A, FOUNDER, "Liang Wenfeng.", author_id=7, citations=[CITATION],
        review_by=date(2027, 3, 31), cited_sources=[SOURCE],
    )  # fmt: skip
    await db.record_faq_use(entry.id, GUILD_A, datetime(2026, 11, 2, 8, tzinfo=UTC))
    exported = json.loads(json.dumps(await db.export_faqs(GUILD_A)))
    assert exported[0]["review_by"] == "2027-03-31" and exported[0]["use_count"] == 1

    assert await db.import_faqs(exported, GUILD_B, author_id=99) == 1
    [copy] = await db.faqs_for_guild(GUILD_B)
    assert (copy.review_by, copy.cited_sources, copy.use_count) == (date(2027, 3, 31), (SOURCE,), 1)
    assert copy.last_used_at == datetime(2026, 11, 2, 8, tzinfo=UTC)

    older = [{"format": 1, "question": "What is the H20?", "answer": "A chip.", "citations": []}]
    assert await db.import_faqs(older, GUILD_B, author_id=99) == 1
    h20 = (await db.faqs_for_guild(GUILD_B))[-1]
    assert (h20.use_count, h20.last_used_at, h20.review_by, h20.cited_sources) == (0, None, None, None)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"review_by": "31/03/2027"}, "Entry 1: The review date '31/03/2027' is not a date: write it as YYYY-MM-DD"),
        ({"review_by": "2027-02-30"}, "Entry 1: The review date '2027-02-30' is not a date"),
        ({"use_count": -3}, "Entry 1: use_count must be a whole number, 0 or more"),
        ({"last_used_at": "yesterday"}, "Entry 1: last_used_at must be a date and time"),
        ({"cited_sources": [{"source_id": "x"}]}, "Entry 1: each of cited_sources must have a source_id"),
    ],
)
async def test_bad_new_fields_in_an_import_name_the_entry(db: Database, extra: dict[str, object], message: str) -> None:
    with pytest.raises(UserFacingError) as info:
        await db.import_faqs([{"question": FOUNDER, "answer": "Liang."} | extra], GUILD_B, author_id=1)
    assert str(info.value).startswith(message)
    assert await db.faqs_for_guild(GUILD_B) == []


def _upgrade_to(revision: str) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    return run


async def test_a_0001_database_with_entries_upgrades_without_losing_them(backend: str, db_url: str) -> None:
    if backend == "sqlite":
        Path(make_url(db_url).database or "").parent.mkdir(parents=True)
    engine = create_async_engine(db_url, poolclass=NullPool)
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_to("0001"))
        await conn.execute(
            text(
                "INSERT INTO faq_entries (guild_id, question, answer, citations, author_id, created_at, updated_at,"
                " channel_id, message_id, pinned_message_id) VALUES (:g, :q, :a, :c, 7, :t, :t, 5, 6, 6)"
            ),
            {"g": GUILD_A, "q": FOUNDER, "a": "Liang Wenfeng.", "c": json.dumps([{"n": 1, "chunk_id": "deepseek#0",
             "title": "DeepSeek's founder"}]), "t": datetime(2025, 5, 1, tzinfo=UTC)},
        )  # fmt: skip
        assert await conn.run_sync(current_revision) == "0001"
    await engine.dispose()

    db = await Database.open(db_url)
    try:
        [entry] = await db.faqs_for_guild(GUILD_A)
        assert (entry.question, entry.answer, entry.pinned_message_id) == (FOUNDER, "Liang Wenfeng.", 6)
        assert [c.chunk_id for c in entry.citations] == ["deepseek#0"]
        assert (entry.use_count, entry.last_used_at, entry.review_by, entry.cited_sources) == (0, None, None, None)
        assert await db.record_faq_use(entry.id, GUILD_A)
        assert (await db.get_faq(entry.id, GUILD_A)).use_count == 1  # type: ignore[union-attr]
    finally:
        await db.close()
    engine = create_async_engine(db_url, poolclass=NullPool)
    async with engine.connect() as conn:
        assert await conn.run_sync(current_revision) == head_revision()
    await engine.dispose()


async def test_stats_count_the_open_review_cards_whenever_they_were_opened(db: Database) -> None:
    queue = ReviewQueue(db, FaqMatcher(None, 0.8))
    for guild, question in ((GUILD_A, "Best sourdough?"), (GUILD_A, "Who runs Nvidia?"), (GUILD_B, "Why?")):
        await queue.record(Sighting("refused", guild, 1, None, question, 5))
    first = (await queue.open_cards(GUILD_A))[0]
    assert await queue.close(first.id, GUILD_A, status="dismissed", by=5, how="dismissed") is not None

    later = datetime.now(UTC) + timedelta(days=1)  # a period after the cards were opened: they still count
    assert (await db.stats(GUILD_A, later)).open_review_cards == 1 == await queue.open_count(GUILD_A)
    assert (await db.stats(None, later)).open_review_cards == 2
