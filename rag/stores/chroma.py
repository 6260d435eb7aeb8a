"""Vectors in chroma: the embedded PersistentClient under the data dir, or an HttpClient to a server."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rag.errors import IndexMismatchError, RagError

if TYPE_CHECKING:
    from rag.config import ChromaSettings
    from rag.types import Chunk

log = logging.getLogger(__name__)
_BATCH = 1000  # well under chroma's max batch size


def _client(settings: ChromaSettings, data_dir: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaClientSettings

    client_settings = ChromaClientSettings(anonymized_telemetry=False)
    try:
        if settings.host:
            return chromadb.HttpClient(
                host=settings.host, port=settings.port, ssl=settings.ssl, settings=client_settings
            )
        return chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=client_settings)
    except Exception as exc:
        where = f"{settings.host}:{settings.port}" if settings.host else str(data_dir / "chroma")
        raise RagError(f"cannot open the chroma store at {where}: {exc}") from exc


class ChromaStore:
    """A chroma collection of chunk vectors (cosine space). Every method is blocking."""

    def __init__(self, settings: ChromaSettings, data_dir: Path) -> None:
        self._client = _client(settings, data_dir)
        self._name = settings.collection
        self._collection: Any = None
        self.location = f"http://{settings.host}:{settings.port}" if settings.host else str(data_dir / "chroma")

    def _get(self) -> Any:
        if self._collection is None:
            self._collection = self._client.get_or_create_collection(
                self._name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
            )
        return self._collection

    def heartbeat(self) -> None:
        self._client.heartbeat()

    def close(self) -> None:
        """Release the client's files, connections and threads: an embedded client otherwise keeps its SQLite and
        HNSW files open until the process ends (chroma shares one System per path and stops it on the last close;
        `close` exists from chromadb 1.1 on, older clients are left to the process's end)."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()
        self._collection = None

    def recorded_embedder(self) -> tuple[str, int] | None:
        meta = self._get().metadata or {}
        if "embedder" not in meta:
            return None
        return str(meta["embedder"]), int(meta["dimension"])

    def check_embedder(self, name: str, dimension: int | None = None) -> None:
        """Refuse to mix vectors of two models: similarities between them mean nothing.
        `dimension` None checks the name only (a remote model's size is known after its first answer)."""
        recorded = self.recorded_embedder()
        if recorded is not None and (recorded[0] != name or dimension not in (None, recorded[1])):
            raise IndexMismatchError(
                f"the index was built with {recorded[0]} ({recorded[1]} dimensions) but {name}"
                f"{f' ({dimension} dimensions)' if dimension else ''} is configured;"
                " run `ragbot ingest --rebuild` to rebuild it"
            )

    def record_embedder(self, name: str, dimension: int) -> None:
        self.check_embedder(name, dimension)
        if self.recorded_embedder() != (name, dimension):
            self._get().modify(metadata={"embedder": name, "dimension": dimension})

    def count(self) -> int:
        return int(self._get().count())

    def existing(self, ids: Iterable[str]) -> set[str]:
        wanted = list(ids)
        found: set[str] = set()
        for start in range(0, len(wanted), _BATCH):
            found.update(self._get().get(ids=wanted[start : start + _BATCH], include=[])["ids"])
        return found

    def vectors(self, ids: Sequence[str]) -> tuple[list[str], npt.NDArray[np.float32]]:
        """The stored vectors of `ids` (those present), in the order found."""
        found: list[str] = []
        rows: list[npt.NDArray[np.float32]] = []
        for start in range(0, len(ids), _BATCH):
            got = self._get().get(ids=list(ids[start : start + _BATCH]), include=["embeddings"])
            if got["ids"]:
                found += got["ids"]
                rows.append(np.asarray(got["embeddings"], dtype=np.float32))
        return found, np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def all_ids(self) -> set[str]:
        return set(self._get().get(include=[])["ids"])

    def add(self, chunks: Sequence[Chunk], vectors: npt.NDArray[np.float32]) -> None:
        for start in range(0, len(chunks), _BATCH):
            part = chunks[start : start + _BATCH]
            self._get().upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[start : start + _BATCH],
                documents=[c.text for c in part],
                metadatas=[{"source_id": c.source.id, "section": c.section, "title": c.source.title} for c in part],
            )

    def delete(self, ids: Iterable[str]) -> None:
        doomed = list(ids)
        for start in range(0, len(doomed), _BATCH):
            self._get().delete(ids=doomed[start : start + _BATCH])

    def query(self, vector: npt.NDArray[np.float32], n: int) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity), best first."""
        collection = self._get()
        size = collection.count()
        if size == 0:
            return []
        result = collection.query(query_embeddings=[vector], n_results=min(n, size), include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]

    def reset(self) -> None:
        try:
            self._client.delete_collection(self._name)
        except Exception:  # absent already: nothing to reset
            log.debug("collection %s did not exist", self._name)
        self._collection = None
