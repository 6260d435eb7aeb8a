"""The index catalog in PostgreSQL, for several bot processes sharing one chroma server.

Every row belongs to a generation. A writer (one at a time: a PostgreSQL advisory lock held on one connection
for the whole ingest) copies the live generation into a draft, changes the draft, and flips it live in one
transaction once it is complete: readers only ever read a live generation, never a draft. Readers poll which
generation is live (one single-row query, at most every `poll_seconds`), so a process notices an ingest made by
another within seconds, without a restart. A retired generation's rows, and the vectors only it used, stay for
`grace_seconds`: a process still answering from it (it has not polled yet, or a search is half-way) finds its
chunks. The writer sweeps them after its own publish, so the old vectors of a changed document go away at the
first ingest after the grace period.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg

from rag.catalog import DocumentRecord, _chunk_from_row, _dump_primary, _source
from rag.errors import IngestRunning, RagError
from rag.types import Chunk, Document, SourceInfo

log = logging.getLogger(__name__)

WRITER_LOCK = 0x72616762  # "ragb": pg_try_advisory_lock key held by the one ingest at a time
SCHEMA_LOCK = WRITER_LOCK + 1  # two processes starting together must not both create the tables
POLL_SECONDS = 2.0  # a reader asks which generation is live at most this often (only when it answers)
GRACE_SECONDS = 600.0  # a retired generation outlives any search that started on it by far

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_catalog_generations (
    generation INTEGER PRIMARY KEY, status TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL, retired_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS rag_catalog_writer (id INTEGER PRIMARY KEY, writer TEXT NOT NULL, since TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rag_catalog_documents (
    generation INTEGER NOT NULL, source_id TEXT NOT NULL, path TEXT NOT NULL, content_hash TEXT NOT NULL,
    title TEXT NOT NULL, url TEXT NOT NULL, publisher TEXT NOT NULL, published TEXT NOT NULL, kind TEXT NOT NULL,
    extra TEXT NOT NULL, ingested_at TEXT NOT NULL, primary_sources TEXT NOT NULL,
    PRIMARY KEY (generation, source_id)
);
CREATE TABLE IF NOT EXISTS rag_catalog_chunks (
    generation INTEGER NOT NULL, chunk_id TEXT NOT NULL, source_id TEXT NOT NULL, ord INTEGER NOT NULL,
    text TEXT NOT NULL, heading_path TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER,
    PRIMARY KEY (generation, chunk_id)
);
CREATE INDEX IF NOT EXISTS rag_chunks_by_source ON rag_catalog_chunks (generation, source_id, ord);
"""
_NOW = "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"  # the local catalog's datetime('now')
_DOC_COLUMNS = "source_id, path, content_hash, title, url, publisher, published, kind, extra, ingested_at,"
_DOC_COLUMNS += " primary_sources"
_CHUNK_COLUMNS = 'chunk_id, source_id, ord, text, heading_path, start, "end", page'
_CHUNK_READ = 'chunk_id, source_id, text, heading_path, start, "end", page'


class SqlCatalog:
    """The shared catalog. Thread-safe; every method is blocking (async code calls it via to_thread). Readers share
    one autocommit connection (psycopg serialises its use); the writer works on the connection holding its lock."""

    shared = True

    def __init__(self, url: str, *, poll_seconds: float = POLL_SECONDS, grace_seconds: float = GRACE_SECONDS) -> None:
        parts = urlsplit(url)
        self._url = url
        self._where = f"{parts.hostname}:{parts.port or 5432}{parts.path}"
        # Generations are numbered per database: another database's BM25 cache must never be taken for this one.
        self.cache_name = "lexical-" + hashlib.sha256(self._where.encode()).hexdigest()[:12]
        self._poll = poll_seconds
        self._grace = grace_seconds
        self._state = threading.Lock()
        self._pinned = 0  # the live generation this process reads
        self._previous = 0  # the one before: searches that began on it finish on it
        self._checked = float("-inf")
        self._local = threading.local()  # the writer's connection and draft, seen by the writer's thread only
        self._sources: dict[tuple[int, ...], dict[str, SourceInfo]] = {}
        self._documents_chunks: dict[tuple[int, str], list[Chunk]] = {}
        self._reader: psycopg.Connection[tuple[Any, ...]] | None = None
        conn = self._connect()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            conn.execute(_SCHEMA)
        self._reader = conn

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise RagError(f"cannot open the shared index catalog at {self._where}: {exc}".strip()) from exc

    def _conn(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The writer's own connection in its thread; elsewhere the shared one, reopened after a lost connection."""
        writer: psycopg.Connection[tuple[Any, ...]] | None = getattr(self._local, "conn", None)
        if writer is not None:
            return writer
        with self._state:
            if self._reader is None or self._reader.closed or self._reader.broken:
                self._reader = self._connect()
            return self._reader

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except psycopg.OperationalError as exc:  # the server went away: the next call reconnects
            raise RagError(f"the shared index catalog at {self._where} is unreachable: {exc}".strip()) from exc

    def _execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._conn().execute(sql, params)

    def close(self) -> None:
        with self._state:
            if self._reader is not None:
                self._reader.close()

    # --- which generation to read ---------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """The writer's draft in the writer's thread; elsewhere the live generation, polled every few seconds."""
        draft: int | None = getattr(self._local, "draft", None)
        return draft if draft is not None else self._live()

    def _live(self) -> int:
        now = time.monotonic()
        with self._state:
            if now - self._checked < self._poll:
                return self._pinned
            self._checked = now
        rows = self._rows("SELECT generation FROM rag_catalog_generations WHERE status = 'live'")
        return self._pin(int(rows[0][0]) if rows else 0)

    def _pin(self, live: int) -> int:
        with self._state:
            if live != self._pinned:
                log.info("the index's live generation is now %d (was %d)", live, self._pinned)
                self._previous, self._pinned = self._pinned, live
            return self._pinned

    # --- one writer at a time ---------------------------------------------------------------------------
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writer lock for the block, or raise IngestRunning at once. The lock belongs to one database
        session: a writer killed mid-ingest loses it with its connection, and its draft is dropped by the next."""
        conn = self._connect()
        try:
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK,)).fetchone()[0]:  # type: ignore[index]
                row = conn.execute("SELECT writer, since FROM rag_catalog_writer WHERE id = 1").fetchone()
                since = f" (since {row[1]} UTC, {row[0]})" if row else ""
                raise IngestRunning(f"another ingest is running{since}; try again when it is done")
            conn.execute(
                f"INSERT INTO rag_catalog_writer (id, writer, since) VALUES (1, %(w)s, {_NOW})"
                f" ON CONFLICT (id) DO UPDATE SET writer = %(w)s, since = {_NOW}",
                {"w": f"process {os.getpid()} on {socket.gethostname()}"},
            )
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None
        finally:
            conn.close()  # ends the session, and with it the lock

    @contextmanager
    def draft(self) -> Iterator[None]:
        """Changes made in the block go to a new generation that goes live at its end, complete, in one
        transaction; if the block fails, or changed nothing, the live generation stays as it was."""
        if getattr(self._local, "conn", None) is None:
            raise RagError("a draft of the shared catalog needs the writer lock (catalog.exclusive())")
        draft = self._open_draft()
        self._local.draft, self._local.dirty = draft, False
        try:
            yield
        except BaseException:
            self._local.draft = None
            self._drop_generations("generation = %(g)s", g=draft)
            raise
        self._local.draft = None
        if self._local.dirty:
            self._publish(draft)
        else:
            self._drop_generations("generation = %(g)s", g=draft)

    def _open_draft(self) -> int:
        self._drop_generations("status = 'draft'")  # left by a writer that died: we hold the lock, it is gone
        with self._conn().transaction():
            draft = int(self._rows("SELECT COALESCE(MAX(generation), 0) + 1 FROM rag_catalog_generations")[0][0])
            live = self._rows("SELECT generation, meta FROM rag_catalog_generations WHERE status = 'live'")
            self._execute(
                "INSERT INTO rag_catalog_generations (generation, status, meta, created_at)"
                f" VALUES (%(d)s, 'draft', %(m)s, {_NOW})",
                {"d": draft, "m": live[0][1] if live else "{}"},
            )
            if live:
                copy = {"d": draft, "g": live[0][0]}
                self._execute(
                    f"INSERT INTO rag_catalog_documents (generation, {_DOC_COLUMNS}) SELECT %(d)s, {_DOC_COLUMNS}"
                    " FROM rag_catalog_documents WHERE generation = %(g)s",
                    copy,
                )
                self._execute(
                    f"INSERT INTO rag_catalog_chunks (generation, {_CHUNK_COLUMNS}) SELECT %(d)s, {_CHUNK_COLUMNS}"
                    " FROM rag_catalog_chunks WHERE generation = %(g)s",
                    copy,
                )
        return draft

    def _publish(self, draft: int) -> None:
        with self._conn().transaction():
            self._execute(
                "UPDATE rag_catalog_generations SET status = 'retired', retired_at = now() WHERE status = 'live'"
            )
            self._execute("UPDATE rag_catalog_generations SET status = 'live' WHERE generation = %(g)s", {"g": draft})
        log.info("generation %d of the shared index is live", draft)
        with self._state:
            self._checked = time.monotonic()
        self._pin(draft)

    def _drop_generations(self, where: str, **params: Any) -> None:
        with self._conn().transaction():
            doomed = [r[0] for r in self._rows(f"SELECT generation FROM rag_catalog_generations WHERE {where}", params)]
            for table in ("rag_catalog_chunks", "rag_catalog_documents", "rag_catalog_generations"):
                self._execute(f"DELETE FROM {table} WHERE generation = ANY(%(g)s)", {"g": doomed})

    def sweep_generations(self) -> None:
        """Forget generations retired longer than the grace period ago (the writer calls it after publishing)."""
        self._drop_generations(
            "status = 'retired' AND retired_at < now() - make_interval(secs => %(s)s)", s=self._grace
        )

    def referenced_chunk_ids(self) -> set[str]:
        """Chunks of every generation kept: the live one, and those retired within the grace period."""
        return {r[0] for r in self._rows("SELECT DISTINCT chunk_id FROM rag_catalog_chunks")}

    # --- writes (the writer's draft only) --------------------------------------------------------------
    def _draft_generation(self) -> int:
        draft: int | None = getattr(self._local, "draft", None)
        if draft is None:
            raise RagError("the shared catalog is written through a draft (catalog.draft()) only")
        self._local.dirty = True
        return draft

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT meta FROM rag_catalog_generations WHERE generation = %(g)s", {"g": self.generation})
        value = json.loads(rows[0][0] if rows else "{}").get(key)
        return None if value is None else str(value)

    def set_meta(self, **values: str) -> None:
        if all(self.get_meta(k) == v for k, v in values.items()):
            return  # the same chunker as before: not a change worth a new generation
        draft = self._draft_generation()
        with self._conn().transaction():
            rows = self._rows("SELECT meta FROM rag_catalog_generations WHERE generation = %(g)s", {"g": draft})
            meta = json.loads(rows[0][0] if rows else "{}") | values
            self._execute(
                "UPDATE rag_catalog_generations SET meta = %(m)s WHERE generation = %(g)s",
                {"m": json.dumps(meta), "g": draft},
            )

    def replace_document(self, doc: Document, chunks: Iterable[Chunk]) -> None:
        draft = self._draft_generation()
        rows = [
            (draft, c.chunk_id, doc.source_id, i, c.text, json.dumps(c.heading_path), c.start, c.end, c.page)
            for i, c in enumerate(chunks)
        ]
        document = {
            "g": draft, "source_id": doc.source_id, "path": doc.path, "content_hash": doc.content_hash,
            "title": doc.title, "url": doc.url, "publisher": doc.publisher, "published": doc.published,
            "kind": doc.kind, "extra": json.dumps(doc.extra, ensure_ascii=False),
            "primary_sources": _dump_primary(doc.primary_sources),
        }  # fmt: skip
        conn = self._conn()
        with conn.transaction():
            self._delete_source(draft, doc.source_id)
            self._execute(
                f"INSERT INTO rag_catalog_documents (generation, {_DOC_COLUMNS}) VALUES (%(g)s, %(source_id)s,"
                " %(path)s, %(content_hash)s, %(title)s, %(url)s, %(publisher)s, %(published)s, %(kind)s, %(extra)s,"
                f" {_NOW}, %(primary_sources)s)",
                document,
            )
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO rag_catalog_chunks (generation, {_CHUNK_COLUMNS})"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )

    def _delete_source(self, generation: int, source_id: str) -> None:
        for table in ("rag_catalog_chunks", "rag_catalog_documents"):
            self._execute(
                f"DELETE FROM {table} WHERE generation = %(g)s AND source_id = %(s)s", {"g": generation, "s": source_id}
            )

    def remove_document(self, source_id: str) -> None:
        draft = self._draft_generation()
        with self._conn().transaction():
            self._delete_source(draft, source_id)

    def clear(self) -> None:
        draft = self._draft_generation()
        with self._conn().transaction():
            for table in ("rag_catalog_chunks", "rag_catalog_documents"):
                self._execute(f"DELETE FROM {table} WHERE generation = %(g)s", {"g": draft})
            self._execute("UPDATE rag_catalog_generations SET meta = '{}' WHERE generation = %(g)s", {"g": draft})

    # --- reads (the generation this thread reads) -------------------------------------------------------
    def document_hashes(self) -> dict[str, str]:
        sql = "SELECT source_id, content_hash FROM rag_catalog_documents WHERE generation = %(g)s"
        return {r[0]: r[1] for r in self._rows(sql, {"g": self.generation})}

    def chunk_ids_of(self, source_id: str) -> set[str]:
        sql = "SELECT chunk_id FROM rag_catalog_chunks WHERE generation = %(g)s AND source_id = %(s)s"
        return {r[0] for r in self._rows(sql, {"g": self.generation, "s": source_id})}

    def documents(self) -> list[DocumentRecord]:
        rows = self._rows(
            "SELECT d.source_id, d.title, d.url, d.publisher, d.published, d.kind, d.primary_sources, d.path,"
            " d.content_hash, d.ingested_at, d.extra, COUNT(c.chunk_id) FROM rag_catalog_documents d"
            " LEFT JOIN rag_catalog_chunks c ON c.generation = d.generation AND c.source_id = d.source_id"
            " WHERE d.generation = %(g)s GROUP BY d.source_id, d.generation ORDER BY d.source_id",
            {"g": self.generation},
        )
        return [DocumentRecord(_source(r[:7]), r[7], r[8], r[11], r[9], json.loads(r[10])) for r in rows]

    def chunk_count(self) -> int:
        sql = "SELECT COUNT(*) FROM rag_catalog_chunks WHERE generation = %(g)s"
        return int(self._rows(sql, {"g": self.generation})[0][0])

    def all_chunk_ids(self) -> set[str]:
        sql = "SELECT chunk_id FROM rag_catalog_chunks WHERE generation = %(g)s"
        return {r[0] for r in self._rows(sql, {"g": self.generation})}

    def _source_map(self, generations: list[int]) -> dict[str, SourceInfo]:
        """The documents' citation data, newest generation first. Kept per generation set: a generation's rows
        never change once it is live (a draft's do, so the writer reads them afresh)."""
        key = tuple(generations)
        draft = getattr(self._local, "draft", None) is not None
        cached = None if draft else self._sources.get(key)
        if cached is not None:
            return cached
        rows = self._rows(
            "SELECT DISTINCT ON (source_id) source_id, title, url, publisher, published, kind, primary_sources"
            " FROM rag_catalog_documents WHERE generation = ANY(%(gs)s) ORDER BY source_id, generation DESC",
            {"gs": generations},
        )
        found = {r[0]: _source(r) for r in rows}
        if not draft:
            with self._state:
                self._sources = {k: v for k, v in self._sources.items() if set(k) & set(key)} | {key: found}
        return found

    def get_chunks(self, chunk_ids: Iterable[str]) -> dict[str, Chunk]:
        """The chunks among `chunk_ids` in the generation read now, or in the one before it: a search that
        began on the previous generation (its BM25 found these ids) finishes on it."""
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        current = self.generation
        with self._state:
            generations = [current, self._previous] if current == self._pinned else [current]
        rows = self._rows(
            f"SELECT DISTINCT ON (chunk_id) {_CHUNK_READ} FROM rag_catalog_chunks WHERE generation = ANY(%(gs)s)"
            " AND chunk_id = ANY(%(ids)s) ORDER BY chunk_id, generation DESC",
            {"gs": generations, "ids": ids},
        )
        sources = self._source_map(generations)
        return {r[0]: _chunk_from_row(r, sources) for r in rows}

    def chunks_of(self, source_id: str) -> list[Chunk]:
        """A document's chunks, in order. Kept per live generation: retrieval asks for the same few (the sources
        a correction corrects) on every question, and a live generation never changes."""
        if getattr(self._local, "draft", None) is not None:
            return self._chunks("AND source_id = %(s)s", s=source_id)
        generation = self.generation
        found = self._documents_chunks.get((generation, source_id))
        if found is None:
            found = self._chunks("AND source_id = %(s)s", s=source_id, g=generation)
            with self._state:
                kept = (self._pinned, self._previous)
                self._documents_chunks = {k: v for k, v in self._documents_chunks.items() if k[0] in kept}
                self._documents_chunks[(generation, source_id)] = found
        return found

    def iter_chunks(self) -> Iterator[Chunk]:
        yield from self._chunks()

    def _chunks(self, where: str = "", **params: Any) -> list[Chunk]:
        generation: int = params.pop("g", None) or self.generation
        sources = self._source_map([generation])
        sql = f"SELECT {_CHUNK_READ} FROM rag_catalog_chunks WHERE generation = %(g)s {where} ORDER BY source_id, ord"
        return [_chunk_from_row(r, sources) for r in self._rows(sql, {"g": generation, **params})]
