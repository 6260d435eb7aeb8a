"""The catalog: which documents and chunks are live. SQLite, so replacing a document is one transaction.

Vectors live in the vector store, keyed by the same content-derived chunk ids. A chunk is visible to
retrieval only once the catalog lists it, so a crash mid-ingest never exposes half a document.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rag.errors import DocumentError, RagError
from rag.loaders import parse_primary_sources
from rag.types import Chunk, Document, PrimarySource, SourceInfo

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    source_id TEXT PRIMARY KEY, path TEXT NOT NULL, content_hash TEXT NOT NULL, title TEXT NOT NULL,
    url TEXT NOT NULL, publisher TEXT NOT NULL, published TEXT NOT NULL, kind TEXT NOT NULL,
    extra TEXT NOT NULL, ingested_at TEXT NOT NULL DEFAULT (datetime('now')),
    primary_sources TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, source_id TEXT NOT NULL REFERENCES documents(source_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, text TEXT NOT NULL, heading_path TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER
);
CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks(source_id, ord);
"""


_DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


def describe_open_error(path: Path, exc: sqlite3.DatabaseError) -> str:
    """Advice for a catalog that cannot be opened. Only a file that is not (or no longer) a database may be
    rebuilt; a full disk, an I/O error or a permission problem leaves a healthy catalog, so nothing is deleted."""
    name = getattr(exc, "sqlite_errorname", "")
    if name in _DAMAGED:
        return (
            f"the index catalog {path} is damaged ({exc}); move it aside (rename it), then run `ragbot ingest`"
            " to build it again from the corpus"
        )
    return f"cannot open the index catalog {path} ({exc}); check the disk and the folder's permissions"


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    source: SourceInfo
    path: str
    content_hash: str
    chunk_count: int
    ingested_at: str
    extra: dict[str, str]


class CatalogStore(Protocol):
    """What the index reads and ingestion writes. `Catalog` (a local SQLite file, one process) and
    `rag.stores.catalog_sql.SqlCatalog` (PostgreSQL, several processes sharing a chroma server) implement it."""

    shared: bool  # other processes may read this catalog (vectors are swept only after a grace period)
    cache_name: str  # the data dir's folder for the BM25 cache of this catalog's generations

    @property
    def generation(self) -> int: ...
    def exclusive(self) -> AbstractContextManager[None]: ...
    def draft(self) -> AbstractContextManager[None]: ...
    def sweep_generations(self) -> None: ...
    def referenced_chunk_ids(self) -> set[str]: ...
    def close(self) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, **values: str) -> None: ...
    def document_hashes(self) -> dict[str, str]: ...
    def chunk_ids_of(self, source_id: str) -> set[str]: ...
    def replace_document(self, doc: Document, chunks: Iterable[Chunk]) -> None: ...
    def remove_document(self, source_id: str) -> None: ...
    def clear(self) -> None: ...
    def documents(self) -> list[DocumentRecord]: ...
    def chunk_count(self) -> int: ...
    def all_chunk_ids(self) -> set[str]: ...
    def get_chunks(self, chunk_ids: Iterable[str]) -> dict[str, Chunk]: ...
    def chunks_of(self, source_id: str) -> list[Chunk]: ...
    def iter_chunks(self) -> Iterator[Chunk]: ...


class Catalog:
    """Thread-safe: one connection behind a lock (sqlite work here is short). One process owns it: writes are
    visible document by document (each its own transaction), and vectors nobody lists are deleted at once."""

    shared = False
    cache_name = "lexical"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            _add_primary_sources(self._db)
        except sqlite3.DatabaseError as exc:
            raise RagError(describe_open_error(path, exc)) from exc
        self._lock = threading.RLock()
        self._sources: dict[str, SourceInfo] | None = None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._sources = None

    # --- writers: one process, so no lock and no staging (see SqlCatalog for the shared case) -----------
    def exclusive(self) -> AbstractContextManager[None]:
        return nullcontext()

    def draft(self) -> AbstractContextManager[None]:
        return nullcontext()

    def sweep_generations(self) -> None:
        """Nothing to keep for other readers: there are none."""

    def referenced_chunk_ids(self) -> set[str]:
        """The chunks whose vectors must stay: the live ones."""
        return self.all_chunk_ids()

    # --- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, **values: str) -> None:
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items())

    @property
    def generation(self) -> int:
        """Bumped on every change, so derived indexes (BM25) know when to rebuild."""
        return int(self.get_meta("generation") or 0)

    # --- documents ----------------------------------------------------------------------------------
    def document_hashes(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT source_id, content_hash FROM documents"))

    def chunk_ids_of(self, source_id: str) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT chunk_id FROM chunks WHERE source_id = ?", (source_id,))
            return {r[0] for r in rows}

    def replace_document(self, doc: Document, chunks: Iterable[Chunk]) -> None:
        """Make `chunks` the document's live chunks, atomically."""
        rows = [
            (c.chunk_id, doc.source_id, i, c.text, json.dumps(c.heading_path), c.start, c.end, c.page)
            for i, c in enumerate(chunks)
        ]
        with self._transaction() as db:
            db.execute("DELETE FROM chunks WHERE source_id = ?", (doc.source_id,))
            db.execute(
                "INSERT OR REPLACE INTO documents(source_id, path, content_hash, title, url, publisher,"
                " published, kind, extra, primary_sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc.source_id,
                    doc.path,
                    doc.content_hash,
                    doc.title,
                    doc.url,
                    doc.publisher,
                    doc.published,
                    doc.kind,
                    json.dumps(doc.extra, ensure_ascii=False),
                    _dump_primary(doc.primary_sources),
                ),
            )
            db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._bump(db)

    def remove_document(self, source_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM chunks WHERE source_id = ?", (source_id,))
            db.execute("DELETE FROM documents WHERE source_id = ?", (source_id,))
            self._bump(db)

    def clear(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM documents")
            db.execute("DELETE FROM meta WHERE key != 'generation'")
            self._bump(db)

    @staticmethod
    def _bump(db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('generation', '1') ON CONFLICT(key)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def documents(self) -> list[DocumentRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT d.source_id, d.title, d.url, d.publisher, d.published, d.kind, d.primary_sources, d.path,"
                " d.content_hash, d.ingested_at, d.extra, COUNT(c.chunk_id) FROM documents d"
                " LEFT JOIN chunks c ON c.source_id = d.source_id GROUP BY d.source_id ORDER BY d.source_id"
            ).fetchall()
        return [DocumentRecord(_source(r[:7]), r[7], r[8], r[11], r[9], json.loads(r[10])) for r in rows]

    # --- chunks -------------------------------------------------------------------------------------
    def _source_map(self) -> dict[str, SourceInfo]:
        with self._lock:
            if self._sources is None:
                rows = self._db.execute(
                    "SELECT source_id, title, url, publisher, published, kind, primary_sources FROM documents"
                )
                self._sources = {r[0]: _source(r) for r in rows}
            return self._sources

    def chunk_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def all_chunk_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT chunk_id FROM chunks")}

    def get_chunks(self, chunk_ids: Iterable[str]) -> dict[str, Chunk]:
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        sources = self._source_map()
        found: dict[str, Chunk] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f'SELECT chunk_id, source_id, text, heading_path, start, "end", page FROM chunks'
                    f" WHERE chunk_id IN ({marks})",
                    part,
                ).fetchall()
                found.update((r[0], _chunk_from_row(r, sources)) for r in rows)
        return found

    def chunks_of(self, source_id: str) -> list[Chunk]:
        """A document's live chunks, in order."""
        sources = self._source_map()
        with self._lock:
            rows = self._db.execute(
                'SELECT chunk_id, source_id, text, heading_path, start, "end", page FROM chunks'
                " WHERE source_id = ? ORDER BY ord",
                (source_id,),
            ).fetchall()
        return [_chunk_from_row(r, sources) for r in rows]

    def iter_chunks(self) -> Iterator[Chunk]:
        """All live chunks in a stable order (source, position)."""
        sources = self._source_map()
        with self._lock:
            rows = self._db.execute(
                'SELECT chunk_id, source_id, text, heading_path, start, "end", page FROM chunks ORDER BY source_id, ord'
            ).fetchall()
        for r in rows:
            yield _chunk_from_row(r, sources)


def _chunk_from_row(row: tuple, sources: dict[str, SourceInfo]) -> Chunk:  # type: ignore[type-arg]
    chunk_id, source_id, text, heading_path, start, end, page = row
    return Chunk(chunk_id, sources[source_id], text, tuple(json.loads(heading_path)), start, end, page)


def _source(row: tuple) -> SourceInfo:  # type: ignore[type-arg]
    """(source_id, title, url, publisher, published, kind, primary_sources JSON) as a SourceInfo."""
    primary = tuple(PrimarySource(p["title"], p["url"], p["confirmed"]) for p in json.loads(row[6] or "[]"))
    source_id, title, url, publisher, published, kind = row[:6]
    return SourceInfo(source_id, title, url, publisher, published, kind, primary)


def _dump_primary(sources: tuple[PrimarySource, ...]) -> str:
    return json.dumps([{"title": s.title, "url": s.url, "confirmed": s.confirmed} for s in sources])


def _add_primary_sources(db: sqlite3.Connection) -> None:
    """Catalogs written before primary sources were kept get the column, filled from the front matter they
    already stored (`extra`), so citations carry the links without re-ingesting unchanged files."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(documents)")}
    if "primary_sources" in columns:
        return
    db.execute("ALTER TABLE documents ADD COLUMN primary_sources TEXT NOT NULL DEFAULT '[]'")
    for source_id, extra in db.execute("SELECT source_id, extra FROM documents").fetchall():
        try:
            primary = parse_primary_sources(json.loads(extra).get("sources", ""))
        except (DocumentError, ValueError, AttributeError):
            continue  # a malformed list stays empty until the file is fixed and re-ingested
        db.execute("UPDATE documents SET primary_sources = ? WHERE source_id = ?", (_dump_primary(primary), source_id))
