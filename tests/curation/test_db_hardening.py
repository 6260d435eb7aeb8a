"""Storage under hostile input and concurrency, on SQLite and PostgreSQL: imports racing each other, broken
Unicode in imports and in answers, a URL that does not parse, a fresh SQLite file shared by two writers."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from curation.db import Database, resolve_url
from rag.errors import DatabaseError, UserFacingError
from rag.types import Answer

GUILD = 333_333_333_333_333_333


def _entries(n: int) -> list[dict[str, str]]:
    return [{"question": f"What does rule {i} say?", "answer": f"Rule {i} says {i * 7}."} for i in range(n)]


async def test_four_imports_at_once_add_each_entry_once(db_url: str) -> None:
    """`ragbot faq import` run four times at once: "entries already there are skipped" still holds."""
    databases = [await Database.open(db_url) for _ in range(4)]
    try:
        for round_ in range(3):  # a race that is lost only sometimes gets three chances to show
            guild = GUILD + round_
            added = await asyncio.gather(*(db.import_faqs(_entries(50), guild, author_id=1) for db in databases))
            assert sorted(added) == [0, 0, 0, 50]
            stored = await databases[0].faqs_for_guild(guild)
            assert len(stored) == 50 and len({e.question for e in stored}) == 50
    finally:
        for db in databases:
            await db.close()


async def test_an_import_entry_with_broken_unicode_is_named_and_nothing_is_written(db: Database) -> None:
    entries = [{"question": "Who founded DeepSeek\ud800?", "answer": "Liang Wenfeng."}, *_entries(2)]
    with pytest.raises(UserFacingError) as info:
        await db.import_faqs(entries, GUILD, author_id=1)
    assert str(info.value).startswith("Entry 1: The question contains broken Unicode")
    assert await db.faqs_for_guild(GUILD) == []


async def test_an_answer_with_broken_unicode_is_logged_with_a_replacement_character(db: Database) -> None:
    """A model answer carrying a lone surrogate (or NUL, or an escape sequence) is still recorded."""
    answer = Answer("Liang \ud800Wenfeng\x00 founded it.\x1b[2J", (), False, False, "generative")
    await db.log_answer("a1", "who\udcff founded it?", answer, guild_id=GUILD, channel_id=1, user_id=2, latency_ms=5)
    stored = await db.get_answer("a1", guild_id=GUILD)
    assert stored is not None
    assert stored.text == "Liang \ufffdWenfeng founded it." and stored.question == "who\ufffd founded it?"


async def test_a_url_with_a_port_that_is_not_a_number_names_the_setting_not_the_password() -> None:
    with pytest.raises(DatabaseError) as info:
        await Database.open("postgresql://bot:s3cret@db.internal:fivefour/ragbot")
    message = str(info.value)
    assert "the port is not a number" in message and "RAGBOT_DATABASE__URL" in message
    assert "s3cret" not in message and "\n" not in message


async def test_a_new_sqlite_file_is_in_wal_mode_as_soon_as_it_is_opened(tmp_path: Path) -> None:
    """Left to the first pooled connection, the switch to WAL could meet another connection's write and fail
    with "database is locked" at once (SQLite skips the busy wait where waiting could deadlock)."""
    url = resolve_url(tmp_path)
    db = await Database.open(url)
    try:
        with sqlite3.connect(tmp_path / "ragbot.sqlite3") as probe:
            assert probe.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await db.close()
