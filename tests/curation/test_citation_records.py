"""A citation's primary sources survive the database (FAQ entries, the answer log behind the Sources button) and
export/import; rows and files written before primary sources existed still read. SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from helpers import BRIEF_CITATION
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from curation.db import Database
from curation.db.models import FaqEntry
from curation.db.records import citations_from_json, citations_to_json
from rag.errors import UserFacingError
from rag.types import Answer

GUILD, OTHER = 111_111_111_111_111_111, 222_222_222_222_222_222
BRIEF = BRIEF_CITATION
OLD_ROW = {  # a citation as stored before `kind` and `primary_sources` existed
    "n": 1,
    "chunk_id": "deepseek#0",
    "title": "The article",
    "url": "https://example.org/a",
    "published": "2025",
    "section": "",
    "quote": "Liang Wenfeng founded DeepSeek.",
    "publisher": "Blog",
    "outdated": False,
}


def test_citations_round_trip_through_json_text() -> None:
    assert citations_from_json(json.loads(json.dumps(citations_to_json([BRIEF])))) == (BRIEF,)
    [old] = citations_from_json([OLD_ROW])
    assert old.primary_sources == () and old.kind == "" and old.title == "The article"


@pytest.mark.parametrize(
    ("primary", "message"),
    [
        ("CNBC", "primary_sources must be a list"),
        ([{"url": "https://x.org"}], "must be an object with a title"),
        ([{"title": "CNBC", "confirmed": "no"}], "confirmed true or false"),
    ],
)
def test_a_bad_primary_source_is_named(primary: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        citations_from_json([OLD_ROW | {"primary_sources": primary}])


async def test_faq_entries_and_logged_answers_keep_primary_sources(db_url: str) -> None:
    db = await Database.open(db_url)
    try:
        entry = await db.add_faq(
            GUILD, "Why did Nvidia fall?", "DeepSeek-V3's cost [1].", author_id=7, citations=[BRIEF]
        )
        assert (await db.get_faq(entry.id, GUILD)).citations == (BRIEF,)  # type: ignore[union-attr]
        answer = Answer("Nvidia fell 17% [1].", (BRIEF,), True, False, "generative")
        await db.log_answer("a1", "Why did Nvidia fall?", answer, guild_id=GUILD, channel_id=5, user_id=9, latency_ms=1)
        stored = await db.get_answer("a1", guild_id=GUILD)
        assert stored is not None and stored.citations == (BRIEF,)

        exported = json.loads(json.dumps(await db.export_faqs(GUILD)))
        assert exported[0]["citations"][0]["primary_sources"][0] == {
            "title": "CNBC, Jan 27, 2025",
            "url": "https://www.cnbc.com/nvidia",
            "confirmed": False,
        }
        assert await db.import_faqs(exported, OTHER, author_id=8) == 1
        [copied], _ = await db.list_faqs(OTHER)
        assert copied.citations == (BRIEF,)
        with pytest.raises(UserFacingError, match="Entry 1: a citation's primary_sources must be a list"):
            await db.import_faqs([exported[0] | {"citations": [OLD_ROW | {"primary_sources": "x"}]}], OTHER, 8)
    finally:
        await db.close()


async def test_rows_stored_before_primary_sources_still_read(db_url: str) -> None:
    db = await Database.open(db_url)
    try:
        entry = await db.add_faq(GUILD, "Who founded DeepSeek?", "Liang Wenfeng [1].", author_id=7, citations=[BRIEF])
    finally:
        await db.close()
    engine = create_async_engine(db_url)
    async with engine.begin() as conn:  # the row as an older ragbot wrote it
        await conn.execute(update(FaqEntry).values(citations=[OLD_ROW]))
    await engine.dispose()
    db = await Database.open(db_url)
    try:
        record = await db.get_faq(entry.id, GUILD)
        assert (
            record is not None
            and record.citations[0].primary_sources == ()
            and record.citations[0].title == "The article"
        )
    finally:
        await db.close()
