"""Database backends for the storage tests: SQLite in tmp_path always; PostgreSQL, a fresh database per test,
when RAGBOT_TEST_POSTGRES_URL names a server (`eval "$(bash .ci/postgres.sh)"`; CI always does)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from helpers import IN_CI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from curation.db import Database, resolve_url

# Read at import: the autouse fixture in tests/conftest.py clears every RAGBOT_* variable before each test runs.
POSTGRES_URL = os.environ.get("RAGBOT_TEST_POSTGRES_URL", "")


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every test asking for a database runs on both backends."""
    if request.param == "postgresql" and not POSTGRES_URL:
        if IN_CI:
            pytest.fail('CI must run the PostgreSQL tests: .ci/run needs eval "$(bash .ci/postgres.sh)" before pytest')
        pytest.skip("RAGBOT_TEST_POSTGRES_URL is not set (see .ci/postgres.sh)")
    return str(request.param)


@pytest.fixture
async def db_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield resolve_url(tmp_path / "data")
        return
    async with fresh_database("ragbot_t") as url:
        yield url


# CREATE DATABASE copies the template page by page (~7.5 MB, WAL-logged since PostgreSQL 15): ~0.16 s of the
# server's CPU each, about 50 times a run, on the cores the tests share. A database a test is done with is
# emptied instead (~0.01 s) and handed to this process's next test: as empty as a new one, checked.
_SPARE: list[str] = []
# What an emptied database holds again: the `public` schema as CREATE DATABASE makes it (PostgreSQL 15).
_NEW_PUBLIC = (
    "CREATE SCHEMA public AUTHORIZATION pg_database_owner",
    "GRANT USAGE ON SCHEMA public TO PUBLIC",
    "COMMENT ON SCHEMA public IS 'standard public schema'",
)
_OURS = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"  # not PostgreSQL's own schemas
_SCHEMAS = f"SELECT n.nspname FROM pg_namespace n WHERE {_OURS}"
_NONEMPTY = (  # schemas holding a table, sequence, view, index, type or function
    f"SELECT count(*) FROM pg_namespace n WHERE {_OURS} AND (EXISTS (SELECT FROM pg_class WHERE relnamespace = n.oid)"
    " OR EXISTS (SELECT FROM pg_type WHERE typnamespace = n.oid)"
    " OR EXISTS (SELECT FROM pg_proc WHERE pronamespace = n.oid))"
)


def _url(name: str) -> str:
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def fresh_database(prefix: str) -> AsyncIterator[str]:
    """An empty PostgreSQL database of the test's own (an asyncpg URL, with its password): new, or one an earlier
    test of this process used, emptied."""
    if _SPARE:
        name = _SPARE.pop()
    else:
        name = f"{prefix}_{secrets.token_hex(6)}"
        await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield _url(name)
    finally:
        if await _emptied(name):
            _SPARE.append(name)
        else:
            await _drop_database(name)


async def _emptied(name: str) -> bool:
    """Everything a test made in database `name` dropped, as checked after; False if that failed (the test may
    have dropped the database itself)."""
    try:
        # What the test left connected (a killed process's session, a pool not closed) goes first.
        await _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        engine = create_async_engine(_url(name), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                for schema in (await conn.execute(text(_SCHEMAS))).scalars().all():
                    await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                for statement in _NEW_PUBLIC:
                    await conn.execute(text(statement))
                schemas = (await conn.execute(text(_SCHEMAS))).scalars().all()
                return schemas == ["public"] and (await conn.execute(text(_NONEMPTY))).scalar_one() == 0
        finally:
            await engine.dispose()
    except Exception:
        return False


@pytest.fixture(scope="session", autouse=True)
def _drop_spare_databases() -> Iterator[None]:
    """The emptied databases are dropped when this process's tests end."""
    yield
    if _SPARE:
        asyncio.run(_drop_all(list(_SPARE)))
        _SPARE.clear()


async def _drop_all(names: list[str]) -> None:
    for name in names:
        await _drop_database(name)


async def _drop_database(name: str, attempts: int = 10) -> None:
    """A background worker (autovacuum) may still be attached for a moment: try again before giving up."""
    for attempt in range(attempts):
        try:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.3)


@pytest.fixture
def pg_admin() -> Callable[[str], Awaitable[None]]:
    """Runs one statement as the test role outside any transaction (CREATE/DROP DATABASE)."""
    return _admin


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = await Database.open(db_url)
    yield database
    await database.close()
