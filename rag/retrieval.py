"""Hybrid retrieval: dense (chroma) and BM25 results fused by reciprocal rank, then de-duplicated,
capped per source, and judged for relevance."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rag.types import Passage, SearchResult

if TYPE_CHECKING:
    from rag.config import RetrievalSettings
    from rag.index import Index
    from rag.types import Chunk

_WORDS = re.compile(r"\w+")


def rrf_fuse(rankings: Iterable[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: each list adds 1 / (k + rank) to an id; best fused score first."""
    scores: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] += 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def shingles(text: str, size: int = 3) -> frozenset[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    if len(words) < size:
        return frozenset({tuple(words)})
    return frozenset(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def select_passages(
    candidates: Sequence[Passage], *, k: int, max_per_source: int, duplicate_threshold: float
) -> list[Passage]:
    """Walk candidates best first, skipping near-copies of a chosen passage. A source at its cap yields to
    other sources; its further passages come back only if the other sources cannot fill `k`."""
    chosen: list[Passage] = []
    chosen_shingles: list[frozenset[tuple[str, ...]]] = []
    deferred: list[Passage] = []
    per_source: dict[str, int] = defaultdict(int)

    def take(passage: Passage) -> None:
        sig = shingles(passage.chunk.text)
        if any(jaccard(sig, other) >= duplicate_threshold for other in chosen_shingles):
            return
        chosen.append(passage)
        chosen_shingles.append(sig)
        per_source[passage.chunk.source.id] += 1

    for passage in candidates:
        if len(chosen) >= k:
            break
        if per_source[passage.chunk.source.id] >= max_per_source:
            deferred.append(passage)
        else:
            take(passage)
    for passage in deferred:
        if len(chosen) >= k:
            break
        take(passage)
    return sorted(chosen, key=lambda p: -p.score)


class Retriever:
    """Blocking search over an Index; the async service runs it in a worker thread."""

    def __init__(self, index: Index, settings: RetrievalSettings) -> None:
        self.index = index
        self.settings = settings

    def search(self, query: str, k: int | None = None) -> SearchResult:
        k = k or self.settings.k
        n = max(self.settings.candidates, k * 4)
        lexical = self.index.lexical()
        lexical_hits = lexical.query(query, n)
        dense_hits: list[tuple[str, float]] = []
        if self.index.embedder is not None and self.index.store is not None:
            vector = self.index.embedder.embed([query])[0]
            live = set(lexical.ids)  # vectors of chunks the catalog no longer lists are never shown
            dense_hits = [(i, s) for i, s in self.index.store.query(vector, n + 10) if i in live][:n]
        fused = rrf_fuse([[i for i, _ in dense_hits], [i for i, _ in lexical_hits]], self.settings.rrf_k)
        chunks = self.index.catalog.get_chunks(i for i, _ in fused)
        dense = dict(dense_hits)
        bm25 = dict(lexical_hits)
        candidates = [Passage(chunks[i], score, dense.get(i), bm25.get(i)) for i, score in fused if i in chunks]
        passages = select_passages(
            candidates,
            k=k,
            max_per_source=self.settings.max_per_source,
            duplicate_threshold=self.settings.duplicate_threshold,
        )
        relevant = self._relevant(query, passages, dense_hits)
        return SearchResult(query, tuple(passages), relevant, self.index.mode)

    def _relevant(self, query: str, passages: Sequence[Passage], dense_hits: Sequence[tuple[str, float]]) -> bool:
        """Relevant when the best dense similarity or the lexical coverage of a top passage clears its
        calibrated threshold: either signal alone misses some real questions (names MiniLM does not know,
        paraphrases sharing no words), and off-topic questions score low on both."""
        if max((s for _, s in dense_hits), default=-1.0) >= self.settings.min_similarity:
            return True
        threshold = (
            self.settings.min_lexical_coverage
            if self.index.embedder is not None
            else self.settings.lexical_only_min_coverage
        )
        lexical = self.index.lexical()
        return any(lexical.coverage(query, _lexical_view(p.chunk)) >= threshold for p in passages[:3])


def _lexical_view(chunk: Chunk) -> str:
    return " ".join((chunk.source.title, *chunk.heading_path, chunk.text))
