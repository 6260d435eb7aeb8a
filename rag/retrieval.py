"""Hybrid retrieval: dense (chroma) and BM25 results fused by reciprocal rank, then de-duplicated,
capped per source, and judged for relevance."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from rag.rerank import build_reranker
from rag.sentence_rank import SentenceRanker
from rag.stores.lexical import lexical_text, specific_tokens
from rag.types import Passage, SearchResult

if TYPE_CHECKING:
    from rag.config import RetrievalSettings
    from rag.index import Index

log = logging.getLogger(__name__)
_WORDS = re.compile(r"\w+")
# Questions that point at a kind of source ("what does the article say...") favour sources of that kind.
_KIND_HINTS = {
    "article": re.compile(r"\b(?:the|that|this)\s+(?:article|(?:blog\s+)?post|blog|writer|author|piece)\b", re.I)
}


def hinted_kinds(query: str) -> set[str]:
    return {kind for kind, pattern in _KIND_HINTS.items() if pattern.search(query)}


def rrf_fuse(
    rankings: Iterable[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: each list adds weight / (k + rank) to an id; best fused score first."""
    scores: dict[str, float] = defaultdict(float)
    for i, ranking in enumerate(rankings):
        weight = weights[i] if weights is not None and i < len(weights) else 1.0
        for rank, item in enumerate(ranking, start=1):
            scores[item] += weight / (k + rank)
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


ClaimFinder = Callable[[Passage, str], "Passage | None"]


def pair_corrections(
    chosen: Sequence[Passage], corrects: dict[str, set[str]], claim_for: ClaimFinder, k: int
) -> tuple[list[Passage], list[tuple[str, str]]]:
    """When a chosen passage comes from a source that corrects another (front matter `corrects:`), the
    passage of the corrected source it is about joins it, so an answer can cite the claim and its correction
    side by side. Room is made by dropping the weakest passage that is neither side of a pair. Returns the
    passages and the (correction, claim) chunk-id pairs among them."""
    result = list(chosen)
    protected: set[str] = set()
    pairs: list[tuple[str, str]] = []
    for passage in list(result):
        for target in sorted(corrects.get(passage.chunk.source.id, ())):
            claim = claim_for(passage, target)
            if claim is None:
                continue
            if all(p.chunk.chunk_id != claim.chunk.chunk_id for p in result):
                spare = [p for p in result if p.chunk.chunk_id not in protected | {passage.chunk.chunk_id}]
                if len(result) >= k and not spare:
                    continue
                if len(result) >= k:
                    result.remove(min(spare, key=lambda p: p.score))
                result.append(claim)
            protected |= {passage.chunk.chunk_id, claim.chunk.chunk_id}
            pairs.append((passage.chunk.chunk_id, claim.chunk.chunk_id))
    kept = {p.chunk.chunk_id for p in result}
    return sorted(result, key=lambda p: -p.score), [(a, b) for a, b in pairs if a in kept and b in kept]


def quoted_passage(correction: Passage, claims: Sequence[Passage], fallback: Passage | None) -> Passage | None:
    """The claim passage a correction is about: the one sharing the most word triples with it (corrections
    quote the claim they correct); the best-ranked candidate of that source if none shares any."""
    mine = shingles(correction.chunk.text)
    best = max(claims, key=lambda c: len(mine & shingles(c.chunk.text)), default=None)
    if best is None or not mine & shingles(best.chunk.text):
        return fallback
    return best


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
        self._corrects: dict[str, set[str]] = {}
        self._corrects_generation = -1
        self._sentences = SentenceRanker(index)
        self.reranker = build_reranker(settings)  # None unless a cross-encoder folder is configured

    def search(self, query: str, k: int | None = None, *, also: Sequence[str] = ()) -> SearchResult:
        """The best `k` passages for `query`. `also`: other phrasings (e.g. a follow-up as the user wrote it,
        beside its rewritten form) whose rankings join the fusion; relevance is judged on `query`."""
        started = time.perf_counter()
        k = k or self.settings.k
        n = max(self.settings.candidates, k * 4)
        dense_hits, lexical_hits = self._hits(query, n)
        rankings = [[i for i, _ in dense_hits], [i for i, _ in lexical_hits], *self._other_forms(also, n)]
        weights = [1.0] * len(rankings)
        fused = rrf_fuse(rankings, self.settings.rrf_k, weights)
        chunks = self.index.catalog.get_chunks(i for i, _ in fused)
        if self.settings.sentence_weight > 0 and self.index.embedder is not None:
            top = [chunks[i] for i, _ in fused[: self.settings.sentence_candidates] if i in chunks]
            rankings.append(self._sentences.rank(query, top))
            weights.append(self.settings.sentence_weight)
            fused = rrf_fuse(rankings, self.settings.rrf_k, weights)
        if kinds := hinted_kinds(" ".join((query, *also))):
            rankings.append([i for i, _ in fused if i in chunks and chunks[i].source.kind in kinds])
            fused = rrf_fuse(rankings, self.settings.rrf_k, weights)
        dense = dict(dense_hits)
        bm25 = dict(lexical_hits)
        candidates = [Passage(chunks[i], score, dense.get(i), bm25.get(i)) for i, score in fused if i in chunks]
        candidates = self._rerank(query, candidates)
        passages = select_passages(
            candidates,
            k=k,
            max_per_source=self.settings.max_per_source,
            duplicate_threshold=self.settings.duplicate_threshold,
        )
        passages, pairs = pair_corrections(passages, self._corrections(), self._claim_finder(candidates), k)
        relevant = self._relevant(query, passages, dense_hits)
        _log_decision(query, self.index.mode, passages, len(candidates), dense_hits, relevant, started)
        return SearchResult(query, tuple(passages), relevant, self.index.mode, tuple(pairs))

    def _rerank(self, query: str, candidates: list[Passage]) -> list[Passage]:
        """The cross-encoder's order for the best `rerank_top` fused candidates, before the per-source caps and `k`.
        They take the fused scores of the ranks they move into, so what follows (caps, corrections, `--json`) sees
        the same scale; the rest keep their place behind them."""
        if self.reranker is None or len(candidates) < 2:
            return candidates
        top = candidates[: self.settings.rerank_top]
        scores = self.reranker.score(query, [lexical_text(p.chunk) for p in top])
        order = sorted(range(len(top)), key=lambda i: -scores[i])  # stable: equal scores keep the fused order
        reranked = [dataclasses.replace(top[i], score=top[rank].score) for rank, i in enumerate(order)]
        return reranked + candidates[len(top) :]

    def _other_forms(self, also: Sequence[str], n: int) -> list[list[str]]:
        """Rankings of the other phrasings of the question (`also`), dense and BM25."""
        rankings: list[list[str]] = []
        for form in also:
            dense, lexical = self._hits(form, n)
            rankings += [[i for i, _ in dense], [i for i, _ in lexical]]
        return rankings

    def _dense(self, query: str, n: int) -> list[tuple[str, float]]:
        if self.index.embedder is None or not self.index.has_vectors:
            return []
        vector = self.index.embedder.embed([query])[0]
        live = set(self.index.lexical().ids)  # vectors of chunks the catalog no longer lists are never shown
        return [(i, s) for i, s in self.index.dense_query(vector, n + 10) if i in live][:n]

    def _hits(self, query: str, n: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """(dense hits, BM25 hits) for one query, best first; dense is empty without an embedding model."""
        return self._dense(query, n), self.index.lexical().query(query, n)

    def _corrections(self) -> dict[str, set[str]]:
        """{source id: the sources it corrects}, from the documents' front matter; re-read when the index changes."""
        generation = self.index.catalog.generation
        if self._corrects_generation != generation:
            self._corrects = {
                d.source.id: set(_as_list(d.extra.get("corrects", ""))) for d in self.index.catalog.documents()
            }
            self._corrects = {k: v for k, v in self._corrects.items() if v}
            self._corrects_generation = generation
        return self._corrects

    def _claim_finder(self, candidates: Sequence[Passage]) -> ClaimFinder:
        def find(correction: Passage, target: str) -> Passage | None:
            fallback = next((c for c in candidates if c.chunk.source.id == target), None)
            chunks = self.index.catalog.chunks_of(target)
            claims = [Passage(c, fallback.score if fallback else 0.0) for c in chunks]
            return quoted_passage(correction, claims, fallback)

        return find

    def _relevant(self, query: str, passages: Sequence[Passage], dense_hits: Sequence[tuple[str, float]]) -> bool:
        """Relevant when the best dense similarity or the lexical coverage of a top passage clears its
        calibrated threshold: either signal alone misses some real questions (names MiniLM does not know,
        paraphrases sharing no words), and off-topic questions score low on both."""
        lexical = self.index.lexical()
        best = max((s for _, s in dense_hits), default=-1.0)
        if specific_tokens(query) - lexical.specifics:
            # A year, model or order number the sources never mention ("the 2030 G7 summit"): being near
            # the topic is not enough, only a very close match is.
            return best >= self.settings.unknown_specific_similarity
        if best >= self.settings.min_similarity:
            return True
        threshold = (
            self.settings.min_lexical_coverage
            if self.index.embedder is not None
            else self.settings.lexical_only_min_coverage
        )
        return any(lexical.coverage(query, lexical_text(p.chunk)) >= threshold for p in passages[:3])


def _log_decision(
    query: str,
    mode: str,
    passages: Sequence[Passage],
    candidates: int,
    dense_hits: Sequence[tuple[str, float]],
    relevant: bool,
    started: float,
) -> None:
    """At INFO: what was searched, what was kept and why a question will be answered or refused."""
    if not log.isEnabledFor(logging.INFO):
        return
    kept = ", ".join(f"{p.chunk.source.id} ({p.score:.3f})" for p in passages)
    best = f"{max(s for _, s in dense_hits):.3f}" if dense_hits else "n/a"
    log.info(
        "retrieval %s: query %r; kept %d of %d candidates: %s; best similarity %s; %s; %.0f ms",
        mode,
        query,
        len(passages),
        candidates,
        kept or "none",
        best,
        "relevant" if relevant else "not relevant (refusal)",
        (time.perf_counter() - started) * 1000,
    )


def _as_list(raw: str) -> list[str]:
    """A front-matter value stored as text: a JSON list, or one id."""
    raw = raw.strip()
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return [raw]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
