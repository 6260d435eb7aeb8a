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

from rag.text import split_sentences

if TYPE_CHECKING:
    from rag.index import Index
    from rag.types import Chunk

log = logging.getLogger(__name__)

_MIN_CHARS = 20  # list labels and headings are not sentences worth matching alone
_CACHE_CHUNKS = 4096  # sentence vectors kept per process (a few MB): candidates repeat across questions


class SentenceRanker:
    """Blocking; embeds each candidate passage's sentences once and keeps them (bounded, least recent out)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def rank(self, query: str, chunks: Sequence[Chunk]) -> list[str]:
        """Chunk ids best first by their best sentence's cosine similarity to `query`."""
        embedder = self.index.embedder
        if embedder is None or not chunks:
            return []
        self._fill(chunks)
        q = embedder.embed([query])[0]
        best: list[tuple[float, str]] = []
        with self._lock:
            for chunk in chunks:
                vectors = self._cache.get(chunk.chunk_id)
                if vectors is not None and len(vectors):
                    best.append((float(np.max(vectors @ q)), chunk.chunk_id))
        return [cid for _, cid in sorted(best, key=lambda x: -x[0])]

    def _fill(self, chunks: Sequence[Chunk]) -> None:
        assert self.index.embedder is not None
        with self._lock:
            missing = [c for c in chunks if c.chunk_id not in self._cache]
            for c in chunks:
                if c.chunk_id in self._cache:
                    self._cache.move_to_end(c.chunk_id)
        if not missing:
            return
        sentences = [[s for s in split_sentences(c.text) if len(s) >= _MIN_CHARS] or [c.text] for c in missing]
        flat = [s for group in sentences for s in group]
        vectors = self.index.embedder.embed(flat)
        with self._lock:
            start = 0
            for chunk, group in zip(missing, sentences, strict=True):
                self._cache[chunk.chunk_id] = vectors[start : start + len(group)]
                start += len(group)
            while len(self._cache) > _CACHE_CHUNKS:
                self._cache.popitem(last=False)
