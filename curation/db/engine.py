"""Engines: SQLite (aiosqlite) set up for several concurrent writers, PostgreSQL (asyncpg) as it comes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from rag.errors import DatabaseError

# How long a SQLite writer waits for another connection's (or process's) write lock before failing.
BUSY_TIMEOUT_SECONDS = 30.0
# Execution option marking connections that will write: on SQLite they BEGIN IMMEDIATE.
WRITE_OPTION = "ragbot_write"


# The async driver for each supported database; a URL naming the database alone gets it.
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def parse_url(url: str) -> URL:
    """The URL with its async driver: "postgresql://..." becomes "postgresql+asyncpg://...". DatabaseError for
    anything else, without repeating the URL (it may hold a password)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        # SQLAlchemy raises ValueError for a port that is not a number. The URL is never repeated: it may hold
        # a password.
        why = "the port is not a number; " if isinstance(exc, ValueError) else ""
        raise DatabaseError(
            f"the database URL cannot be parsed ({why}expected sqlite:///PATH or postgresql://USER:PASS@HOST:PORT/DB"
            " in RAGBOT_DATABASE__URL)"
        ) from None
    driver = _DRIVERS.get(parsed.get_backend_name())
    if parsed.drivername not in (driver, parsed.get_backend_name()) or driver is None:
        raise DatabaseError(
            f"unsupported database driver {parsed.drivername!r}: use sqlite+aiosqlite or postgresql+asyncpg"
        )
    return parsed.set(drivername=driver)


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def describe(url: URL) -> str:
    """How messages name the database: the file for SQLite, the URL without its password otherwise."""
    if is_sqlite(url):
        return str(url.database)
    return url.render_as_string(hide_password=True)


def create_engine(url: URL, *, echo: bool = False, wal: bool = True, pooled: bool = True) -> AsyncEngine:
    """An async engine for `url`. `wal=False` leaves a SQLite file's journal mode alone (the schema check must
    not write to a file before it knows it is ours); `pooled=False` opens a connection per use."""
    options: dict[str, Any] = {"echo": echo}
    if not pooled:
        options["poolclass"] = NullPool
    if is_sqlite(url):
        options["connect_args"] = {"timeout": BUSY_TIMEOUT_SECONDS}
        engine = create_async_engine(url, **options)
        _install_sqlite_hooks(engine, wal=wal)
        return engine
    # A PostgreSQL server may have restarted since a pooled connection was last used.
    return create_async_engine(url, pool_pre_ping=True, **options)


def _install_sqlite_hooks(engine: AsyncEngine, *, wal: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3 would open transactions on its own, and none for SELECT or DDL; SQLAlchemy emits BEGIN instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal:
            # Readers never block the writer and the writer never blocks readers; persistent in the file.
            cursor.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL is still crash-safe (no corruption); only the last commits may be lost on a
            # power cut, and a commit no longer waits for an fsync, which made answer bursts queue on the log.
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front. A transaction that reads first and then has to upgrade its
        # lock fails at once with "database is locked" when another writer got there, busy timeout or not.
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
