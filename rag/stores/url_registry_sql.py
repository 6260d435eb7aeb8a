"""The URL-source registry in the shared PostgreSQL database, for processes that share one index (see
rag.stores.catalog_sql): a page added through one bot process is refreshed, listed and restored by any other,
with the same ETag and stored copy. One row per URL: the record as JSON and the body as downloaded."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import psycopg

from rag.errors import RagError
from rag.stores.catalog_sql import SCHEMA_LOCK
from rag.url_sources import UrlSource

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_url_sources (
    url text PRIMARY KEY,
    record jsonb NOT NULL,
    body bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""


class SqlUrlRegistry:
    """`UrlRegistry` on PostgreSQL. Thread-safe (one autocommit connection, used under a lock); blocking."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._url = url
        self._where = f"{parts.hostname}:{parts.port or 5432}{parts.path}"
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._create_table()

    def _create_table(self) -> None:
        """Under the catalog's schema lock: two processes starting together would otherwise both create the table,
        and one would fail (CREATE TABLE IF NOT EXISTS is not safe against a concurrent twin in PostgreSQL)."""
        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                    conn.execute(_SCHEMA)
            except psycopg.OperationalError as exc:
                raise self._unreachable(exc) from exc

    def _unreachable(self, exc: psycopg.OperationalError) -> RagError:
        return RagError(f"the shared URL-source list at {self._where} is unreachable: {exc}".strip())

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        return self._conn

    def _run(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                cursor = self._connection().execute(sql, params)
                return cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError as exc:  # the server went away: the next call reconnects
                raise self._unreachable(exc) from exc

    def all(self) -> list[UrlSource]:
        rows = self._run("SELECT url, record FROM rag_url_sources ORDER BY url")
        return [s for url, record in rows if (s := _source(url, record)) is not None]

    def get(self, url: str) -> UrlSource | None:
        rows = self._run("SELECT url, record FROM rag_url_sources WHERE url = %(u)s", {"u": url})
        return _source(*rows[0]) if rows else None

    def body(self, source: UrlSource) -> bytes:
        rows = self._run("SELECT body FROM rag_url_sources WHERE url = %(u)s", {"u": source.url})
        if not rows:
            raise FileNotFoundError(f"no stored copy of {source.url}")
        return bytes(rows[0][0])

    def save(self, source: UrlSource, body: bytes | None = None) -> None:
        record = json.dumps(dataclasses.asdict(source), ensure_ascii=False)
        if body is not None:
            self._run(
                "INSERT INTO rag_url_sources (url, record, body) VALUES (%(u)s, %(r)s, %(b)s) ON CONFLICT (url)"
                " DO UPDATE SET record = EXCLUDED.record, body = EXCLUDED.body, updated_at = now()",
                {"u": source.url, "r": record, "b": body},
            )
            return
        # No body: a refresh found the page unchanged; only the record (new validators) changes.
        self._run(
            "UPDATE rag_url_sources SET record = %(r)s, updated_at = now() WHERE url = %(u)s",
            {"u": source.url, "r": record},
        )

    def remove(self, url: str) -> None:
        self._run("DELETE FROM rag_url_sources WHERE url = %(u)s", {"u": url})

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _source(url: str, record: Any) -> UrlSource | None:
    try:
        return UrlSource(**(record if isinstance(record, dict) else json.loads(record)))
    except (TypeError, ValueError) as exc:  # a damaged record is reported; the others still load
        log.warning("cannot read the URL source record of %s: %s", url, exc)
        return None
