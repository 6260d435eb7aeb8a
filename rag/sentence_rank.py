"""Ranking passages by their best sentence: the question against each sentence of a candidate passage, so
a passage whose one answering sentence sits among others on nearby topics still ranks by that sentence."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
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
    """Blocking; embeds each candidate passage's sentences once and keeps them (bounded, least recent out).

    They are also kept on disk under the data dir, one file per chunk: a chunk id is a hash of its content, so
    its sentence vectors never go stale, and a command run from the terminal (a new process each time) does not
    embed the same sentences again — that cost seconds per question."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def _folder(self) -> Path:
        assert self.index.embedder is not None
        return self.index.data_dir / "sentences" / re.sub(r"[^A-Za-z0-9._-]+", "_", self.index.embedder.name)

    def _load(self, chunk_ids: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        found: dict[str, npt.NDArray[np.float32]] = {}
        folder = self._folder()
        for chunk_id in chunk_ids:
            try:
                found[chunk_id] = np.load(folder / f"{chunk_id}.npy").astype(np.float32, copy=False)
            except (OSError, ValueError):  # absent (or damaged: embedded again and rewritten)
                continue
        return found

    def _save(self, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
        folder = self._folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for chunk_id, rows in vectors.items():
                partial = folder / f"{chunk_id}.partial.npy"
                np.save(partial, rows)
                os.replace(partial, folder / f"{chunk_id}.npy")
        except OSError as exc:  # a full or read-only disk costs speed, not answers
            log.debug("cannot keep sentence vectors in %s: %s", folder, exc)

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
        known = self._load([c.chunk_id for c in missing])
        todo = [c for c in missing if c.chunk_id not in known]
        if todo:
            sentences = [[s for s in split_sentences(c.text) if len(s) >= _MIN_CHARS] or [c.text] for c in todo]
            vectors = self.index.embedder.embed([s for group in sentences for s in group])
            fresh: dict[str, npt.NDArray[np.float32]] = {}
            start = 0
            for chunk, group in zip(todo, sentences, strict=True):
                fresh[chunk.chunk_id] = vectors[start : start + len(group)]
                start += len(group)
            self._save(fresh)
            known |= fresh
        with self._lock:
            self._cache.update(known)
            while len(self._cache) > _CACHE_CHUNKS:
                self._cache.popitem(last=False)
