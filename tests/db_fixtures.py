"""Database backends for the storage tests: SQLite in tmp_path always; PostgreSQL, a fresh database per test,
when RAGBOT_TEST_POSTGRES_URL names a server (`eval "$(bash .ci/postgres.sh)"`; CI always does)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
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


@contextlib.asynccontextmanager
async def fresh_database(prefix: str) -> AsyncIterator[str]:
    """An empty PostgreSQL database of the test's own, dropped after it (an asyncpg URL, with its password)."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
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
