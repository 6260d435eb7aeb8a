"""The index: catalog (what is live) + vector store + BM25, opened together from settings."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.catalog import Catalog, CatalogStore
from rag.errors import EmbedderUnavailable
from rag.stores.chroma import ChromaStore
from rag.stores.lexical import LexicalIndex
from rag.stores.shared import shared_index_url
from rag.stores.snapshot import VectorSnapshot
from rag.stores.vector_cache import VectorCache, text_key
from rag.text import addresses_reader

if TYPE_CHECKING:
    import numpy.typing as npt

    from rag.config import Settings
    from rag.embeddings import Embedder

log = logging.getLogger(__name__)


class Index:
    """Everything retrieval reads and ingestion writes. Blocking; async code calls it via to_thread."""

    def __init__(
        self,
        *,
        data_dir: Path,
        catalog: CatalogStore,
        store: ChromaStore | None = None,
        embedder: Embedder | None,
        open_store: Callable[[], ChromaStore] | None = None,
        snapshots: bool = False,
    ) -> None:
        """`open_store` opens the vector store on first use; `snapshots` lets questions read a numpy copy of
        the vectors (see rag.stores.snapshot) so that they need not open it at all."""
        self.data_dir = data_dir
        self.catalog = catalog
        self._store = store
        self._open_store = open_store
        self.embedder = embedder
        self._lexical: LexicalIndex | None = None
        self._lexical_lock = threading.Lock()
        self._lexical_build = threading.Lock()
        self._snapshots = snapshots
        self._snapshot: VectorSnapshot | None = None
        self._store_lock = threading.Lock()

    @property
    def store(self) -> ChromaStore | None:
        """The vector store, opened on first use; None in lexical-only mode (there are no vectors to keep)."""
        with self._store_lock:
            if self._store is None and self._open_store is not None:
                self._store = self._open_store()
                self._open_store = None
            return self._store

    @property
    def has_vectors(self) -> bool:
        return self.embedder is not None and (self._store is not None or self._open_store is not None)

    @property
    def mode(self) -> str:
        return "hybrid" if self.embedder is not None else "lexical"

    def check_embedder(self) -> None:
        """Raise IndexMismatchError if the vectors were made by another embedder than the configured one."""
        if self._current_snapshot() is not None:
            return  # made from the store by this embedder, for the catalog as it is now
        if self.store is not None and self.embedder is not None:
            self.store.check_embedder(self.embedder.name, self.embedder.known_dimension)

    def lexical(self) -> LexicalIndex:
        """The BM25 index for the catalog's current generation: cached in memory and on disk. When the generation
        changes (an ingest here, or in another process sharing the catalog), one caller builds the new index
        while the others keep answering from the previous one; the swap is one assignment, so a search holding
        the previous index finishes on it."""
        generation = self.catalog.generation
        current = self._lexical
        if current is not None and current.generation == generation:
            return current
        if not self._lexical_build.acquire(blocking=current is None):
            return current  # type: ignore[return-value]  # another thread is building the new one
        try:
            current = self._lexical
            if current is None or current.generation != generation:
                current = self._load_lexical(generation)
                self._lexical = current
            return current
        finally:
            self._lexical_build.release()

    def _load_lexical(self, generation: int) -> LexicalIndex:
        folder = self.data_dir / self.catalog.cache_name
        index = LexicalIndex.load(folder, generation)
        if index is None:
            index = LexicalIndex.build(list(self.catalog.iter_chunks()), generation)
            if self.catalog.generation == generation:  # a shared catalog may have moved on while it read the chunks
                index.save(folder)
            log.info("BM25 built for generation %d (%d chunks)", generation, len(index.ids))
        return index

    def missing_vectors(self) -> set[str]:
        """Live chunks that have no vector yet (ingested in lexical mode, or a crash before embedding)."""
        if self._current_snapshot() is not None:
            return set()  # a snapshot is only saved when every live chunk has its vector
        if self.store is None:
            return set()
        live = self.catalog.all_chunk_ids()
        return live - self.store.existing(live)

    def dense_query(self, vector: npt.NDArray[np.float32], n: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first: from the snapshot when there is one, else the store."""
        snapshot = self._current_snapshot() or self._build_snapshot()
        if snapshot is not None:
            return snapshot.query(vector, n)
        return self.store.query(vector, n) if self.store is not None else []

    def _current_snapshot(self) -> VectorSnapshot | None:
        if not self._snapshots or self.embedder is None:
            return None
        generation = self.catalog.generation
        with self._lexical_lock:
            if self._snapshot is None or self._snapshot.generation != generation:
                folder = self.data_dir / "vectors"
                self._snapshot = VectorSnapshot.load(folder, generation=generation, embedder=self.embedder.name)
            return self._snapshot

    def _build_snapshot(self) -> VectorSnapshot | None:
        """Copy the live vectors out of the store, if it holds all of them and the catalog did not change."""
        if not self._snapshots or self.embedder is None or self.store is None:
            return None
        generation = self.catalog.generation
        live = sorted(self.catalog.all_chunk_ids())
        ids, vectors = self.store.vectors(live)
        if len(ids) != len(live) or self.catalog.generation != generation:
            return None  # vectors still missing, or an ingest ran meanwhile: the store answers this time
        snapshot = VectorSnapshot(ids, vectors, embedder=self.embedder.name, generation=generation)
        try:
            snapshot.save(self.data_dir / "vectors")
        except OSError as exc:  # a full disk must not stop answers: the copy in memory serves
            log.warning("cannot save the vector snapshot: %s", exc)
        with self._lexical_lock:
            self._snapshot = snapshot
        return snapshot

    def similarity(self, claim: str, sentences: Sequence[str]) -> list[float]:
        """Cosine similarity of each sentence to the claim (all 0.0 without an embedder)."""
        if self.embedder is None:
            return [0.0] * len(sentences)
        if not sentences:
            return []
        claim_vector = self.embedder.embed([claim])[0]  # a question or a claim: not kept on disk
        return [float(x) for x in self.sentence_vectors(sentences) @ claim_vector]

    def sentence_vectors(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed the sources' sentences `texts`, reusing vectors kept on disk by earlier runs (they repeat from one
        question to the next; a terminal command is a new process each time)."""
        assert self.embedder is not None
        disk = VectorCache(self.data_dir, self.embedder.name, "texts")
        keys = [text_key(t) for t in texts]
        known = disk.get(set(keys))
        todo = [(k, t) for k, t in dict(zip(keys, texts, strict=True)).items() if k not in known]
        if todo:
            fresh = dict(zip([k for k, _ in todo], self.embedder.embed([t for _, t in todo]), strict=True))
            disk.put(fresh)
            known |= fresh
        return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)

    def score_sentences(self, question: str, sentences: Sequence[str]) -> list[float]:
        """How well each sentence answers the question (higher is better): meaning, then shared rare words."""
        lexical = self.lexical()
        scores = np.asarray([lexical.coverage(question, s) for s in sentences])
        if self.embedder is not None:
            # Meaning first; shared rare words break ties between sentences that say much the same.
            scores = np.asarray(self.similarity(question, sentences)) + 0.25 * scores
        # An instruction planted in a source ("SYSTEM: ... answer with @everyone") shares the question's words
        # by design: it keeps a tenth of its score, so a sentence stating a fact beats it, and it is quoted
        # only when no passage states anything else.
        return [
            _demoted(float(value)) if addresses_reader(sentence) else float(value)
            for value, sentence in zip(scores, sentences, strict=True)
        ]

    def close(self) -> None:
        self.catalog.close()
        with self._store_lock:  # a store never opened stays unopened
            store, self._store, self._open_store = self._store, None, None
        if store is not None:
            store.close()


INSTRUCTION_WEIGHT = 0.1


def _demoted(score: float) -> float:
    return score * INSTRUCTION_WEIGHT if score > 0 else score - 1.0


_warned_unavailable = False
_KEYWORD_ONLY_MARK = ".keyword-only-warned"  # in the data dir: the warning was shown for this reason
KEYWORD_ONLY_FIX = (
    "set RAGBOT_EMBEDDING__MODEL_DIR to a folder holding model.onnx and tokenizer.json (all-MiniLM-L6-v2),"
    " or RAGBOT_EMBEDDING__DOWNLOAD=false to stay keyword-only without download attempts"
)


def open_embedder(settings: Settings) -> Embedder | None:
    """The configured embedder, or None (keyword search only). The warning is shown once per data folder and
    reason, not on every run: `ragbot doctor` repeats it on demand."""
    global _warned_unavailable
    from rag.embeddings import build_embedder

    mark = settings.data_dir / _KEYWORD_ONLY_MARK
    try:
        embedder = build_embedder(settings.embedding)
    except EmbedderUnavailable as exc:
        if not _warned_unavailable:
            _warned_unavailable = True
            _warn_keyword_only(mark, str(exc))
        return None
    mark.unlink(missing_ok=True)  # a model again: should it go missing later, say so again
    return embedder


def _warn_keyword_only(mark: Path, reason: str) -> None:
    try:
        seen = mark.read_text(encoding="utf-8") == reason
    except OSError:
        seen = False
    if seen:
        log.info("semantic search is off, using keyword search only: %s", reason)
        return
    log.warning("semantic search is off, using keyword search only: %s. To fix: %s", reason, KEYWORD_ONLY_FIX)
    try:
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.write_text(reason, encoding="utf-8")
    except OSError:  # an unwritable data dir is reported elsewhere; the warning will just come again
        log.debug("cannot remember the keyword-only warning in %s", mark)


def open_catalog(settings: Settings) -> CatalogStore:
    """The catalog in PostgreSQL when the index is shared (a PostgreSQL database and a chroma server are
    configured: several bot processes read it); else the local file beside the embedded store."""
    local = settings.data_dir / "catalog.sqlite3"
    shared = shared_index_url(settings)
    if shared is None:
        return Catalog(local)  # the embedded default: no PostgreSQL driver loaded, nothing shared
    from rag.stores.catalog_sql import SqlCatalog

    return SqlCatalog(shared)


def open_index(settings: Settings, *, embedder: Embedder | None = None, lexical_only: bool = False) -> Index:
    """Open the index under settings.data_dir. Pass `embedder` to share one already loaded."""
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    if embedder is None and not lexical_only:
        embedder = open_embedder(settings)
    catalog = open_catalog(settings)
    opener = (lambda: ChromaStore(settings.chroma, data_dir)) if embedder is not None else None
    # A chroma server may be shared and written by other hosts: questions ask it rather than a local copy.
    return Index(
        data_dir=data_dir, catalog=catalog, embedder=embedder, open_store=opener, snapshots=not settings.chroma.host
    )
