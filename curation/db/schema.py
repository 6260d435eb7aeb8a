"""The schema check and upgrade run at start-up: Alembic, programmatically, on the caller's connection.

A database that is not ours, or that a newer ragbot wrote, stops start-up; nothing is written to it first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect
from sqlalchemy.engine import URL, Connection

from curation.db.engine import BUSY_TIMEOUT_SECONDS, WRITE_OPTION, create_engine, describe, is_sqlite
from curation.db.models import VERSION_TABLE, Base
from rag.errors import DatabaseError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
OUR_TABLES = frozenset(Base.metadata.tables)
# Two bot processes starting at once on one PostgreSQL database must not both create the tables.
_PG_MIGRATION_LOCK = 0x7261_6762_6F74  # "ragbot"


def alembic_config(connection: Connection | None = None, migrations: Path = MIGRATIONS) -> Config:
    """Alembic's configuration without an alembic.ini: the migrations ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations have no head revision"
    return head


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


async def prepare(url: URL, *, echo: bool = False, migrations: Path = MIGRATIONS) -> None:
    """Make the database at `url` ready: check that it is a ragbot database no newer than this code, then
    upgrade it to the head revision in one transaction. Raises DatabaseError with a message for operators."""
    name = describe(url)
    if is_sqlite(url):
        _prepare_sqlite_path(url)
    # No WAL switch and no pool here: the file is not known to be ours yet, and the engine is thrown away.
    engine = create_engine(url, echo=echo, wal=False, pooled=False)
    try:
        async with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            await conn.run_sync(_check_and_upgrade, name, migrations)
        if is_sqlite(url):
            await asyncio.to_thread(_use_wal, str(url.database))
    except DatabaseError:
        raise
    except (sa_exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
        raise _open_failure(exc, url) from exc
    finally:
        await engine.dispose()


def _use_wal(path: str) -> None:
    """Switch the file to WAL here, once, now that it is known to be ours. Left to the first pooled connection,
    the switch (a read lock promoted to exclusive) could meet another connection's write (reserved promoted to
    exclusive): SQLite answers one of them "database is locked" at once, without waiting the busy timeout,
    since waiting could deadlock. Once in WAL mode the setting stays in the file and re-setting it is a no-op."""
    with contextlib.closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")


def _prepare_sqlite_path(url: URL) -> None:
    if not url.database or url.database == ":memory:" or "mode=memory" in str(url):
        raise DatabaseError("an in-memory SQLite database is not supported; give a file path")
    path = Path(url.database)
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a database file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the folder for {path}: {exc.strerror or exc}") from exc


def _check_and_upgrade(connection: Connection, name: str, migrations: Path) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
    config = alembic_config(connection, migrations)
    script = ScriptDirectory.from_config(config)
    current = current_revision(connection)
    if current is None:
        _refuse_foreign_tables(connection, name)
    elif current not in {s.revision for s in script.walk_revisions()}:
        raise DatabaseError(f"{name} was written by a newer ragbot (schema {current}); upgrade ragbot")
    head = script.get_current_head()
    if current == head:
        log.debug("%s: schema %s is current", name, current)
        return
    log.info("%s: upgrading the schema from %s to %s", name, current or "nothing", head)
    try:
        command.upgrade(config, "head")
    except Exception as exc:
        # Every revision runs in the one transaction begun in prepare(): the rollback undoes all of them.
        raise DatabaseError(
            f"{name}: upgrading the schema from {current or 'nothing'} to {head} failed ({exc}); nothing was changed"
        ) from exc


def _refuse_foreign_tables(connection: Connection, name: str) -> None:
    """A database without our version table must hold none of our tables (a half-made or foreign copy), and a
    SQLite file nothing at all: an empty file is new, anything else belongs to someone else."""
    tables = set(inspect(connection).get_table_names())
    if connection.dialect.name == "sqlite":
        if tables:
            raise DatabaseError(_not_ours(name))
    elif tables & OUR_TABLES:
        found = ", ".join(sorted(tables & OUR_TABLES))
        raise DatabaseError(
            f"{name} holds tables named like ragbot's ({found}) but no ragbot schema version;"
            " use an empty database or restore a backup"
        )


def _not_ours(name: str) -> str:
    return f"{name} is not a ragbot database (file is corrupt or of another kind); move it away or restore a backup"


def _open_failure(exc: Exception, url: URL) -> DatabaseError:
    name = describe(url)
    # sqlite3 reports a non-database file (SQLITE_NOTADB) and a damaged one (SQLITE_CORRUPT) as DatabaseError;
    # locks, permissions and missing folders are OperationalError.
    if is_sqlite(url) and isinstance(exc, sa_exc.DatabaseError) and not isinstance(exc, sa_exc.OperationalError):
        return DatabaseError(_not_ours(name))
    detail = getattr(exc, "orig", None) or exc
    return DatabaseError(f"cannot open the database {name}: {detail}")
