"""Start-up: migrations, refusing databases that are corrupt, foreign or newer, failed upgrades, configuration.
Runs on both backends (tests/rag/conftest.py)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, make_url, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from curation.db import Database, resolve_url
from curation.db.models import VERSION_TABLE, Base
from curation.db.schema import MIGRATIONS, current_revision, head_revision, prepare
from rag.config import Settings, load_settings
from rag.errors import DatabaseError

GUILD_A = 111_111_111_111_111_111


async def _run_sync(url: str, statement: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_migrations_create_the_models_schema_and_a_second_open_changes_nothing(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="curation.db.schema")
    first = await Database.open(db_url)
    await first.close()
    assert f"upgrading the schema from nothing to {head_revision()}" in caplog.text
    caplog.clear()

    second = await Database.open(db_url)
    await second.close()
    assert "upgrading" not in caplog.text

    def inspect(conn: Connection) -> tuple[str | None, list[Any]]:
        return current_revision(conn), compare_metadata(MigrationContext.configure(conn), Base.metadata)

    engine = create_async_engine(db_url, poolclass=NullPool)
    async with engine.connect() as conn:
        revision, differences = await conn.run_sync(inspect)
    await engine.dispose()
    assert revision == head_revision()
    # The only table the models do not describe is the version table itself.
    assert [d for d in differences if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)] == []


async def test_a_corrupt_or_foreign_sqlite_file_stops_start_up_and_is_left_alone(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(secrets.token_bytes(64 * 1024))
    foreign = tmp_path / "feedback.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE answers (answer_id TEXT PRIMARY KEY, question TEXT)")
        conn.execute("INSERT INTO answers VALUES ('x', 'kept?')")
    conn.close()
    for path in (corrupt, foreign):
        before = _digest(path)
        with pytest.raises(DatabaseError) as info:
            await Database.open(f"sqlite+aiosqlite:///{path}")
        assert str(info.value) == (
            f"{path} is not a ragbot database (file is corrupt or of another kind); move it away or restore a backup"
        )
        assert _digest(path) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.sqlite3", "feedback.sqlite3"]


async def test_a_schema_from_a_newer_ragbot_stops_start_up_and_is_left_alone(backend: str, db_url: str) -> None:
    db = await Database.open(db_url)
    await db.add_faq(GUILD_A, "Who founded DeepSeek?", "Liang Wenfeng.", author_id=7)
    await db.close()
    await _run_sync(db_url, f"UPDATE {VERSION_TABLE} SET version_num = '0099'")
    path = Path(make_url(db_url).database or "")
    before = _digest(path) if backend == "sqlite" else ""

    with pytest.raises(DatabaseError, match=r"was written by a newer ragbot \(schema 0099\); upgrade ragbot$"):
        await Database.open(db_url)

    if backend == "sqlite":
        assert _digest(path) == before
    engine = create_async_engine(db_url, poolclass=NullPool)
    async with engine.connect() as conn:
        assert await conn.run_sync(current_revision) == "0099"
        assert (await conn.execute(text("SELECT question FROM faq_entries"))).scalar_one() == "Who founded DeepSeek?"
    await engine.dispose()


async def test_tables_named_like_ours_without_a_schema_version_stop_start_up(backend: str, db_url: str) -> None:
    if backend == "sqlite":
        Path(make_url(db_url).database or "").parent.mkdir(parents=True)
    await _run_sync(db_url, "CREATE TABLE faq_entries (id INTEGER PRIMARY KEY, note TEXT)")
    with pytest.raises(DatabaseError) as info:
        await Database.open(db_url)
    expected = "is not a ragbot database" if backend == "sqlite" else "holds tables named like ragbot's (faq_entries)"
    assert expected in str(info.value)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # a SQLite file holding anything is refused
async def test_a_shared_postgresql_database_may_hold_other_applications_tables(db_url: str) -> None:
    await _run_sync(db_url, "CREATE TABLE other_app_users (id INTEGER PRIMARY KEY)")
    db = await Database.open(db_url)
    await db.close()


_BROKEN_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "9002"
down_revision = "{head}"


def upgrade() -> None:
    op.create_table("extra", sa.Column("id", sa.Integer(), primary_key=True))
    op.add_column("faq_entries", sa.Column("lang", sa.String(8), nullable=True))
    raise RuntimeError("disk on fire")
"""


async def test_a_failed_upgrade_changes_nothing(backend: str, db_url: str, tmp_path: Path) -> None:
    db = await Database.open(db_url)
    await db.add_faq(GUILD_A, "Who founded DeepSeek?", "Liang Wenfeng.", author_id=7)
    await db.close()
    migrations = shutil.copytree(MIGRATIONS, tmp_path / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    head = head_revision()  # the broken revision follows whatever the shipped ones end with
    (migrations / "versions" / "9002_broken.py").write_text(_BROKEN_REVISION.format(head=head))
    path = Path(make_url(db_url).database or "")
    before = _digest(path) if backend == "sqlite" else ""

    with pytest.raises(DatabaseError, match=rf"from {head} to 9002 failed \(disk on fire\); nothing was changed$"):
        await prepare(make_url(db_url), migrations=migrations)

    if backend == "sqlite":
        assert _digest(path) == before
    engine = create_async_engine(db_url, poolclass=NullPool)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(sa_inspect(c).get_table_names()))
        columns = await conn.run_sync(lambda c: {col["name"] for col in sa_inspect(c).get_columns("faq_entries")})
        assert await conn.run_sync(current_revision) == head
    await engine.dispose()
    assert "extra" not in tables and "lang" not in columns
    db = await Database.open(db_url)  # the shipped migrations still find their own schema
    try:
        assert [e.question for e in await db.faqs_for_guild(GUILD_A)] == ["Who founded DeepSeek?"]
    finally:
        await db.close()


async def test_two_processes_writing_one_sqlite_file_wait_for_each_other(tmp_path: Path) -> None:
    """The bot and a `ragbot faq import` may share the file: the busy timeout makes writers queue, not fail."""
    url = resolve_url(tmp_path)
    first, second = await Database.open(url), await Database.open(url)
    try:
        await asyncio.gather(
            *(db.record_vote("x", u, u % 4 == 0, GUILD_A) for u in range(100) for db in (first, second))
        )
        entry = await first.add_faq(GUILD_A, "Who?", "One.", author_id=1)
        await asyncio.gather(
            *(db.update_faq(entry.id, GUILD_A, answer=f"{n}.") for n in range(20) for db in (first, second))
        )
        assert await second.votes("x") == (25, 75)
    finally:
        await first.close()
        await second.close()


# --- configuration ------------------------------------------------------------------------------------------
def test_the_database_setting_defaults_to_sqlite_in_the_data_dir(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    assert (
        resolve_url(settings.data_dir, settings.database.url)
        == f"sqlite+aiosqlite:///{settings.data_dir}/ragbot.sqlite3"
    )
    monkeypatch.setenv("RAGBOT_DATABASE__URL", "postgresql://bot:s3cret@db.internal/ragbot")
    monkeypatch.setenv("RAGBOT_FAQ__THRESHOLD", "0.8")
    settings = load_settings(_env_file=None)
    assert resolve_url(settings.data_dir, settings.database.url) == "postgresql://bot:s3cret@db.internal/ragbot"
    assert settings.faq.threshold == 0.8 and "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql+aiomysql://bot:pw@db/ragbot", "unsupported database driver 'mysql+aiomysql'"),
        ("sqlite+pysqlite:///x.db", "unsupported database driver 'sqlite+pysqlite'"),
        ("not a url", "the database URL cannot be parsed"),
        ("sqlite+aiosqlite:///:memory:", "an in-memory SQLite database is not supported"),
    ],
)
async def test_unusable_urls_are_refused_with_one_line(url: str, message: str) -> None:
    with pytest.raises(DatabaseError) as info:
        await Database.open(url)
    assert str(info.value).startswith(message) and "pw" not in str(info.value)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_losing_the_server_mid_run_gives_a_database_error(
    db: Database, db_url: str, pg_admin: Callable[[str], Awaitable[None]]
) -> None:
    await db.record_vote("a", 1, up=True, guild_id=GUILD_A)
    name = make_url(db_url).database
    await pg_admin(f'DROP DATABASE "{name}" WITH (FORCE)')  # every connection of the pool is cut
    with pytest.raises(DatabaseError, match=rf'^database postgresql\+asyncpg://.*/{name}: .*"{name}" does not exist'):
        await db.votes("a")
