"""The index: catalog (what is live) + vector store + BM25, opened together from settings."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.catalog import Catalog
from rag.errors import EmbedderUnavailable
from rag.stores.chroma import ChromaStore
from rag.stores.lexical import LexicalIndex
from rag.text import addresses_reader

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.embeddings import Embedder

log = logging.getLogger(__name__)


class Index:
    """Everything retrieval reads and ingestion writes. Blocking; async code calls it via to_thread."""

    def __init__(
        self, *, data_dir: Path, catalog: Catalog, store: ChromaStore | None, embedder: Embedder | None
    ) -> None:
        self.data_dir = data_dir
        self.catalog = catalog
        self.store = store  # None in lexical-only mode: there are no vectors to keep
        self.embedder = embedder
        self._lexical: LexicalIndex | None = None
        self._lexical_lock = threading.Lock()

    @property
    def mode(self) -> str:
        return "hybrid" if self.embedder is not None else "lexical"

    def check_embedder(self) -> None:
        """Raise IndexMismatchError if the vectors were made by another embedder than the configured one."""
        if self.store is not None and self.embedder is not None:
            self.store.check_embedder(self.embedder.name, self.embedder.known_dimension)

    def lexical(self) -> LexicalIndex:
        """The BM25 index for the catalog's current generation: cached in memory and on disk."""
        generation = self.catalog.generation
        with self._lexical_lock:
            if self._lexical is not None and self._lexical.generation == generation:
                return self._lexical
            folder = self.data_dir / "lexical"
            index = LexicalIndex.load(folder, generation)
            if index is None:
                index = LexicalIndex.build(list(self.catalog.iter_chunks()), generation)
                index.save(folder)
            self._lexical = index
            return index

    def missing_vectors(self) -> set[str]:
        """Live chunks that have no vector yet (ingested in lexical mode, or a crash before embedding)."""
        if self.store is None:
            return set()
        live = self.catalog.all_chunk_ids()
        return live - self.store.existing(live)

    def similarity(self, claim: str, sentences: Sequence[str]) -> list[float]:
        """Cosine similarity of each sentence to the claim (all 0.0 without an embedder)."""
        if self.embedder is None:
            return [0.0] * len(sentences)
        vectors = self.embedder.embed([claim, *sentences])
        return [float(x) for x in vectors[1:] @ vectors[0]]

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


INSTRUCTION_WEIGHT = 0.1


def _demoted(score: float) -> float:
    return score * INSTRUCTION_WEIGHT if score > 0 else score - 1.0


_warned_unavailable = False


def open_embedder(settings: Settings) -> Embedder | None:
    """The configured embedder, or None (keyword search only) with one warning if no model can be had."""
    global _warned_unavailable
    from rag.embeddings import build_embedder

    try:
        return build_embedder(settings.embedding)
    except EmbedderUnavailable as exc:
        if not _warned_unavailable:
            _warned_unavailable = True
            log.warning("semantic search is off, using keyword search only: %s", exc)
        return None


def open_index(settings: Settings, *, embedder: Embedder | None = None, lexical_only: bool = False) -> Index:
    """Open the index under settings.data_dir. Pass `embedder` to share one already loaded."""
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    if embedder is None and not lexical_only:
        embedder = open_embedder(settings)
    catalog = Catalog(data_dir / "catalog.sqlite3")
    store = ChromaStore(settings.chroma, data_dir) if embedder is not None else None
    return Index(data_dir=data_dir, catalog=catalog, store=store, embedder=embedder)
