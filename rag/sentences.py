"""Choosing the sentences of an extractive answer: the ones that answer the question, not the ones that only
share its topic. A sentence's meaning and shared rare words (`Index.score_sentences`) are weighed with what
the question asks for (who / when / how much / how many / which) and with the rank of its passage."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
# What each kind of question is answered by; a sentence holding it is preferred.
_ANSWER_SHAPES: dict[str, re.Pattern[str]] = {
    "when": re.compile(rf"\b{_MONTHS}\b|\b(?:19|20)\d\d\b"),
    "money": re.compile(r"\$\s?\d|\b\d[\d.,]*\s?(?:million|billion|trillion|[KMB])\b|\bper (?:GPU-)?hour\b", re.I),
    "number": re.compile(r"\d"),
    "who": re.compile(r"\b[A-Z][a-z]+(?:\s+(?:[A-Z][a-z]+|of|and|the))*\s+[A-Z][a-z]+\b|\b[A-Z]{2,}\b"),
}
_QUESTION_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("when", re.compile(r"\b(?:when|what (?:date|day|year|month)|since when|how long ago|dates?)\b", re.I)),
    ("money", re.compile(r"\b(?:how much|cost|costs|price|prices|priced|spend|spent|paid|budget|\$)\b", re.I)),
    (
        "number",
        re.compile(r"\b(?:how many|how big|how large|number of|what share|what percent|percentage|size)\b", re.I),
    ),
    ("who", re.compile(r"\b(?:who|whom|whose|which (?:company|agency|country|countries|firm|lab|regulator))\b", re.I)),
)
_SPECIFIC = re.compile(r"\d|\b[A-Z][A-Za-z]*[A-Z0-9]\w*\b")  # numbers and names like H800, GRPO, DualPipe


@dataclass(frozen=True, slots=True)
class Weights:
    shape: float = 0.08  # the sentence holds what the question asks for (a date for "when", ...)
    specific: float = 0.03  # the sentence names something exact (a number, a model) rather than a topic
    rank: float = 0.04  # the first passage's sentences over the last one's, all else equal
    # A sentence right after a strong one keeps this share of its score per step (up to `carry` steps): sources
    # state a topic, then the details ("CAISI published an evaluation." then "... carried out 94% of ..."), and
    # the details share few words with the question. Measured on the dev set (bench/bench_extractive.py).
    carry_decay: float = 0.9
    carry: int = 2


def question_shape(question: str) -> str | None:
    """What kind of answer the question wants: when, money, number or who (None: a description)."""
    for shape, pattern in _QUESTION_SHAPES:
        if pattern.search(question):
            return shape
    return None


def answer_scores(
    question: str,
    sentences: Sequence[str],
    base: Sequence[float],
    passage_ranks: Sequence[int],
    passages: int,
    weights: Weights = Weights(),
) -> list[float]:
    """`base` (meaning and shared words) adjusted for the question's shape, specificity and passage rank, then
    carried forward to the sentences that follow a strong one in its passage (in reading order)."""
    shape = question_shape(question)
    wanted = _ANSWER_SHAPES.get(shape) if shape else None
    scores = []
    for sentence, value, rank in zip(sentences, base, passage_ranks, strict=True):
        value += weights.rank * (1 - rank / max(1, passages))
        if wanted is not None and wanted.search(sentence):
            value += weights.shape
        if _SPECIFIC.search(sentence):
            value += weights.specific
        scores.append(value)
    return _carried(scores, passage_ranks, weights)


def _carried(scores: Sequence[float], passage_ranks: Sequence[int], weights: Weights) -> list[float]:
    """Each sentence at least `carry_decay ** d` times the score of the sentence `d` places before it in the same
    passage (`scores` are in reading order)."""
    out = list(scores)
    for i in range(len(scores)):
        for d in range(1, weights.carry + 1):
            j = i - d
            if j >= 0 and passage_ranks[j] == passage_ranks[i]:
                out[i] = max(out[i], weights.carry_decay**d * scores[j])
    return out


def choose(
    scored: Sequence[tuple[float, int, int, str]], *, limit: int, keep_ratio: float, per_passage: int = 2
) -> list[tuple[int, int, str]]:
    """From (score, passage index, order, sentence): the best sentences anywhere, each nearly as good as the
    best one (a weak sentence adds noise, not support), at most `per_passage` per passage, no sentence twice
    (overlapping passages repeat them); returned in reading order (passage, then position)."""
    if not scored:
        return []
    top = max(s for s, _, _, _ in scored)
    floor = keep_ratio * top if top > 0 else top
    chosen: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    per: dict[int, int] = {}
    for score, pi, order, sentence in sorted(scored, key=lambda x: (-x[0], x[1], x[2])):
        key = " ".join(sentence.split()).casefold()
        if score < floor or len(chosen) >= limit:
            break
        if key in seen or per.get(pi, 0) >= per_passage:
            continue
        seen.add(key)
        per[pi] = per.get(pi, 0) + 1
        chosen.append((pi, order, sentence))
    return sorted(chosen)
