"""The answer given when no language model is configured: the best sentences of the top passages, cited."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rag.text import split_sentences
from rag.types import Answer, Citation, Passage, SearchResult, SourceInfo

# Scores each candidate sentence against the question (higher is better).
SentenceScorer = Callable[[str, Sequence[str]], Sequence[float]]

REFUSAL = "My sources don't cover that."
_MIN_SENTENCE_CHARS = 30  # shorter lines are list labels and headings, not statements
_KEEP_RATIO = 0.8


def closest_sources(result: SearchResult, limit: int = 3) -> tuple[SourceInfo, ...]:
    seen: dict[str, SourceInfo] = {}
    for p in result.passages:
        seen.setdefault(p.chunk.source.id, p.chunk.source)
    return tuple(seen.values())[:limit]


def refusal(result: SearchResult, mode: str = "extractive") -> Answer:
    return Answer(REFUSAL, (), grounded=False, refused=True, mode=mode, closest=closest_sources(result))


def citation_for(n: int, passage: Passage, quote: str) -> Citation:
    source = passage.chunk.source
    return Citation(
        n=n,
        chunk_id=passage.chunk.chunk_id,
        title=source.title,
        url=source.url,
        published=source.published,
        section=passage.chunk.section,
        quote=quote,
        publisher=source.publisher,
    )


def _claims_of_corrections(
    result: SearchResult,
    passages: list[Passage],
    picked: list[tuple[int, int, str]],
    best: dict[int, list[tuple[float, int, str]]],
) -> list[tuple[int, int, str]]:
    """A quoted correction brings the claim it corrects: the reader sees both sides, each cited."""
    position = {p.chunk.chunk_id: i for i, p in enumerate(passages)}
    used = {pi for pi, _, _ in picked}
    extra: list[tuple[int, int, str]] = []
    for correction, claim in result.pairs:
        ci, li = position.get(correction), position.get(claim)
        if ci in used and li is not None and li not in used and best.get(li):
            _, order, sentence = max(best[li])
            extra.append((li, order, sentence))
            used.add(li)
    return extra


def extractive_answer(
    question: str,
    result: SearchResult,
    score: SentenceScorer,
    *,
    max_passages: int = 3,
    max_sentences: int = 3,
) -> Answer:
    """Up to `max_sentences` verbatim sentences, best passage first, each followed by its [n]."""
    if not result.relevant or not result.passages:
        return refusal(result)
    passages = list(result.passages[:max_passages])
    shown = {p.chunk.chunk_id for p in passages}
    claims = {claim for correction, claim in result.pairs if correction in shown}
    passages += [p for p in result.passages[max_passages:] if p.chunk.chunk_id in claims]
    candidates = [
        (pi, s) for pi, p in enumerate(passages) for s in split_sentences(p.chunk.text) if len(s) >= _MIN_SENTENCE_CHARS
    ]
    if not candidates:
        return refusal(result)
    scores = score(question, [s for _, s in candidates])
    best: dict[int, list[tuple[float, int, str]]] = {}
    for order, ((pi, sentence), value) in enumerate(zip(candidates, scores, strict=True)):
        best.setdefault(pi, []).append((float(value), order, sentence))
    top = max(ranked[0][0] for ranked in (sorted(v, reverse=True) for v in best.values()))
    picked: list[tuple[int, int, str]] = []  # (passage index, order in passage, sentence)
    for pi in sorted(best):
        # A passage speaks only through sentences nearly as good as the best one anywhere:
        # a weak sentence from a lower passage adds noise, not support.
        good = [x for x in sorted(best[pi], reverse=True) if x[0] >= _KEEP_RATIO * top][:2]
        picked.extend((pi, order, sentence) for _, order, sentence in good)
    picked = sorted(picked)[:max_sentences]
    picked = sorted(picked + _claims_of_corrections(result, passages, picked, best))
    citations: list[Citation] = []
    numbers: dict[int, int] = {}
    quotes: dict[int, list[str]] = {}
    parts: list[str] = []
    for pi, _, sentence in picked:
        if pi not in numbers:
            numbers[pi] = len(numbers) + 1
        quotes.setdefault(pi, []).append(sentence)
        parts.append(f"{sentence} [{numbers[pi]}]")
    for pi, n in numbers.items():
        citations.append(citation_for(n, passages[pi], " … ".join(quotes[pi])))
    return Answer(" ".join(parts), tuple(citations), grounded=True, refused=False, mode="extractive")
