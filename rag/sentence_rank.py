"""Ranking passages by their best sentence: the question against each sentence of a candidate passage, so
a passage whose one answering sentence sits among others on nearby topics still ranks by that sentence."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from rag.stores.vector_cache import VectorCache
from rag.text import split_sentences

if TYPE_CHECKING:
    from rag.index import Index
    from rag.types import Chunk

log = logging.getLogger(__name__)

_MIN_CHARS = 20  # list labels and headings are not sentences worth matching alone
_CACHE_CHUNKS = 4096  # sentence vectors kept per process (a few MB): candidates repeat across questions


class SentenceRanker:
    """Blocking; embeds each candidate passage's sentences once and keeps them (bounded, least recent out).

    They are also kept on disk under the data dir, one file per chunk: a chunk id is a hash of its content, so
    its sentence vectors never go stale, and a command run from the terminal (a new process each time) does not
    embed the same sentences again — that cost seconds per question."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def _disk(self) -> VectorCache:
        assert self.index.embedder is not None
        return VectorCache(self.index.data_dir, self.index.embedder.name, "chunks")

    def rank(self, query: str, chunks: Sequence[Chunk]) -> list[str]:
        """Chunk ids best first by their best sentence's cosine similarity to `query`."""
        embedder = self.index.embedder
        if embedder is None or not chunks:
            return []
        self.prepare(chunks)
        q = embedder.embed([query])[0]
        best: list[tuple[float, str]] = []
        with self._lock:
            for chunk in chunks:
                vectors = self._cache.get(chunk.chunk_id)
                if vectors is not None and len(vectors):
                    best.append((float(np.max(vectors @ q)), chunk.chunk_id))
        return [cid for _, cid in sorted(best, key=lambda x: -x[0])]

    def prepare(self, chunks: Sequence[Chunk]) -> None:
        """Embed the sentences of `chunks` that no cache holds yet, and keep them: a search then only reads them."""
        assert self.index.embedder is not None
        with self._lock:
            missing = [c for c in chunks if c.chunk_id not in self._cache]
            for c in chunks:
                if c.chunk_id in self._cache:
                    self._cache.move_to_end(c.chunk_id)
        if not missing:
            return
        known = self._disk().get(c.chunk_id for c in missing)
        todo = [c for c in missing if c.chunk_id not in known]
        if todo:
            sentences = [[s for s in split_sentences(c.text) if len(s) >= _MIN_CHARS] or [c.text] for c in todo]
            # Through the index's sentence cache: the sentence scores of the answer read the same sentences.
            vectors = self.index.sentence_vectors([s for group in sentences for s in group])
            fresh: dict[str, npt.NDArray[np.float32]] = {}
            start = 0
            for chunk, group in zip(todo, sentences, strict=True):
                fresh[chunk.chunk_id] = vectors[start : start + len(group)]
                start += len(group)
            self._disk().put(fresh)
            known |= fresh
        with self._lock:
            self._cache.update(known)
            while len(self._cache) > _CACHE_CHUNKS:
                self._cache.popitem(last=False)
