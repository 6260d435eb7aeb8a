"""Citation markers in a model's answer: parsed, checked against the passages, renumbered, quoted. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rag.answer_parts import citation_for
from rag.text import split_sentences
from rag.types import Chunk, Citation, Passage

MARKER = re.compile(r"\[\s*(\d+(?:\s*(?:[-–,]|and)\s*\d+)*)\s*\]")
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_STOP_WORDS = """a an and are as at be been but by for from had has have in is it its of on or that the their this to
was were which with will would not no so than then there these they those into about also after before"""
_STOP = frozenset(_STOP_WORDS.split())
_MAX_RANGE = 20

# Scores a claim against candidate sentences (e.g. embedding cosine); optional.
Similarity = Callable[[str, Sequence[str]], Sequence[float]]


def parse_marker(body: str) -> list[int]:
    """ "1" -> [1]; "1, 3" -> [1, 3]; "1-3" -> [1, 2, 3]; order kept, duplicates dropped."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|and)\s*", body):
        bounds = re.split(r"\s*[-–]\s*", part.strip())
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            low, high = int(bounds[0]), int(bounds[1])
            if low <= high and high - low < _MAX_RANGE:
                numbers.extend(range(low, high + 1))
        elif part.strip().isdigit():
            numbers.append(int(part))
    return list(dict.fromkeys(numbers))


def terms(text: str) -> set[str]:
    return {w.rstrip("s") if len(w) > 3 else w for w in _WORD.findall(text.lower()) if w not in _STOP}


def containment(claim: str, evidence: str) -> float:
    """Share of the claim's content words found in the evidence."""
    wanted = terms(claim)
    return len(wanted & terms(evidence)) / len(wanted) if wanted else 1.0


@dataclass(frozen=True, slots=True)
class Resolved:
    text: str
    citations: tuple[Citation, ...]
    flagged: tuple[str, ...]  # claims whose cited passages do not appear to support them


def cited_claims(text: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, the raw numbers it cites); markers opening a sentence belong to the one before."""
    out: list[tuple[str, list[int]]] = []
    for sentence in split_sentences(text):
        lead = re.match(r"^(?:\s*\[[^\]]*\])+", sentence)
        if lead and out:
            out[-1][1].extend(n for m in MARKER.finditer(lead.group()) for n in parse_marker(m.group(1)))
            sentence = sentence[lead.end() :]
        numbers = [n for m in MARKER.finditer(sentence) for n in parse_marker(m.group(1))]
        claim = _tidy(MARKER.sub("", sentence))
        if claim or numbers:
            out.append((claim, numbers))
    return out


def resolve_citations(
    text: str,
    passages: Sequence[Passage],
    *,
    threshold: float = 0.35,
    similarity: Similarity | None = None,
) -> Resolved:
    """Drop numbers that match no passage, renumber by first use, rewrite the markers as [1][2], and give each
    citation the passage sentence that best supports what was claimed with it."""
    renumber: dict[int, int] = {}

    def rewrite(match: re.Match[str]) -> str:
        valid = [n for n in parse_marker(match.group(1)) if 1 <= n <= len(passages)]
        for n in valid:
            renumber.setdefault(n, len(renumber) + 1)
        return "".join(f"[{renumber[n]}]" for n in valid)

    rewritten = _tidy(MARKER.sub(rewrite, text))
    best: dict[int, tuple[float, str]] = {}
    flagged: list[str] = []
    for claim, numbers in cited_claims(text):
        cited = [n for n in dict.fromkeys(numbers) if n in renumber]
        if cited and claim and not _supported(claim, cited, passages, best, threshold, similarity):
            flagged.append(claim)
    citations = tuple(
        citation_for(new, passages[old - 1], best.get(old, (0.0, _first_sentence(passages[old - 1])))[1])
        for old, new in sorted(renumber.items(), key=lambda kv: kv[1])
    )
    return Resolved(rewritten, citations, tuple(flagged))


def _supported(
    claim: str,
    cited: list[int],
    passages: Sequence[Passage],
    best: dict[int, tuple[float, str]],
    threshold: float,
    similarity: Similarity | None,
) -> bool:
    """Whether one of the cited passages supports the claim; `best` keeps, per passage number, the sentence
    that supports a claim best so far (the citation's quote)."""
    supported = False
    for n in cited:
        sentences = split_sentences(passages[n - 1].chunk.text) or [passages[n - 1].chunk.text]
        scores = [containment(claim, s) for s in sentences]
        whole = containment(claim, passages[n - 1].chunk.text)
        # Embeddings only for claims the words do not already support: most answers reuse the
        # sources' words, and embedding every sentence of every cited passage is the slow part.
        if similarity is not None and max(max(scores), whole) < threshold:
            scores = [max(a, b) for a, b in zip(scores, similarity(claim, sentences), strict=True)]
        top = max(range(len(sentences)), key=lambda i: scores[i])
        supported = supported or max(scores[top], whole) >= threshold
        if scores[top] > best.get(n, (-1.0, ""))[0]:
            best[n] = (scores[top], sentences[top])
    return supported


def _tidy(text: str) -> str:
    """Spaces left where a marker was removed: no double spaces, none before punctuation."""
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()


def _first_sentence(passage: Passage) -> str:
    sentences = split_sentences(passage.chunk.text)
    return sentences[0] if sentences else passage.chunk.text[:200]


def citations_from_chunks(ids: Sequence[str], chunks: Mapping[str, Chunk], answer: str) -> tuple[Citation, ...]:
    """Citations for passages a moderator named, numbered in the order given; each quotes the passage sentence
    sharing most words with the answer (the first sentence when none does)."""
    wanted = terms(answer)
    out = []
    for n, chunk_id in enumerate(ids, 1):
        chunk = chunks[chunk_id]
        sentences = split_sentences(chunk.text) or [chunk.text]
        quote = max(sentences, key=lambda s: len(terms(s) & wanted))  # max keeps the first of equals
        out.append(citation_for(n, Passage(chunk, 0.0), quote))
    return tuple(out)
