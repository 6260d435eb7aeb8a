"""The answer given when no language model is configured: the best sentences of the top passages, cited."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.answer_parts import citation_for, refusal
from rag.sentences import answer_scores, choose
from rag.text import split_sentences
from rag.types import Answer, Citation, Passage, SearchResult

if TYPE_CHECKING:
    from rag.index import Index

# (score, order among the candidates, sentence) per passage index
_Ranked = dict[int, list[tuple[float, int, str]]]

_MIN_SENTENCE_CHARS = 30  # shorter lines are list labels and headings, not statements
_KEEP_RATIO = 0.7  # measured on the dev set with bench/bench_extractive.py (README, "Measured")
_PER_PASSAGE = 4  # a topic sentence and the details after it come from one passage (dev set, as above)


def _claims_of_corrections(
    result: SearchResult,
    passages: list[Passage],
    picked: list[tuple[int, int, str]],
    best: _Ranked,
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
    index: Index,
    *,
    max_passages: int = 4,
    max_sentences: int = 5,
) -> Answer:
    """Up to `max_sentences` verbatim sentences that answer the question (`rag.sentences`), in reading order,
    each followed by its [n]."""
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
    texts = [s for _, s in candidates]
    # What was searched: a follow-up ("is it still blocked there?") as made self-contained by the rewrite.
    asked = result.query or question
    base = index.score_sentences(asked, texts)
    scores = answer_scores(asked, texts, base, [pi for pi, _ in candidates], len(passages))
    best: _Ranked = {}
    scored: list[tuple[float, int, int, str]] = []
    for order, ((pi, sentence), value, shared) in enumerate(zip(candidates, scores, base, strict=True)):
        best.setdefault(pi, []).append((float(value), order, sentence))
        # Keyword-only: a sentence sharing no word with the question is unrelated, whatever its shape.
        if index.embedder is not None or shared > 0:
            scored.append((float(value), pi, order, sentence))
    picked = choose(scored, limit=max_sentences, keep_ratio=_KEEP_RATIO, per_passage=_PER_PASSAGE)
    if not picked:
        return refusal(result)
    picked = sorted(picked + _claims_of_corrections(result, passages, picked, best))
    return _cited(picked, passages)


def _cited(picked: list[tuple[int, int, str]], passages: list[Passage]) -> Answer:
    """The picked sentences in order, each followed by its passage's number; a citation quotes them all."""
    numbers: dict[int, int] = {}
    quotes: dict[int, list[str]] = {}
    parts: list[str] = []
    for pi, _, sentence in picked:
        if pi not in numbers:
            numbers[pi] = len(numbers) + 1
        quotes.setdefault(pi, []).append(sentence)
        parts.append(f"{sentence} [{numbers[pi]}]")
    citations: list[Citation] = [citation_for(n, passages[pi], " … ".join(quotes[pi])) for pi, n in numbers.items()]
    return Answer(" ".join(parts), tuple(citations), grounded=True, refused=False, mode="extractive")
