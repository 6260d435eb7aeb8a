"""What every answer path builds from retrieved passages: a citation of a passage, a refusal naming the
closest sources. Shared by the extractive and the generative answers and the moderators' FAQ citations."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from rag.types import Answer, AnswerMode, Citation

if TYPE_CHECKING:
    from rag.types import Passage, SearchResult, SourceInfo

REFUSAL = "My sources don't cover that."
ENGLISH_ONLY = "I only understand questions in English: no language model is configured to translate yours."
ENGLISH_ONLY_NOTE = (
    "I only understand questions in English without a language model: these sentences were matched on the names"
    " and numbers in your question. Ask in English for a better answer."
)


def closest_sources(result: SearchResult, limit: int = 3) -> tuple[SourceInfo, ...]:
    """The first `limit` distinct sources among the passages, best first: shown with a refusal."""
    seen: dict[str, SourceInfo] = {}
    for p in result.passages:
        seen.setdefault(p.chunk.source.id, p.chunk.source)
    return tuple(seen.values())[:limit]


def refusal(result: SearchResult, mode: AnswerMode = "extractive", text: str = REFUSAL) -> Answer:
    return Answer(text, (), grounded=False, refused=True, mode=mode, closest=closest_sources(result))


UNCHECKED_NOTE = (
    "Some sentences of this answer could not be checked against their sources: the check compares words, and the"
    " sources are in English."
)


def unchecked_language(answer: Answer) -> Answer:
    """A generated answer in another language: its sentences share few words with the English passages, so
    "not clearly supported" would flag sound sentences; the reader is told they were not checked instead."""
    if not answer.flagged:
        return answer
    return dataclasses.replace(answer, flagged=(), notes=(*answer.notes, UNCHECKED_NOTE))


def english_only(answer: Answer) -> Answer:
    """The extractive answer to a question not in English: what the sources matched stands, with a note saying
    only English is understood; with nothing matched, that is the answer (not "my sources don't cover that")."""
    if answer.refused:
        return dataclasses.replace(answer, text=ENGLISH_ONLY)
    return dataclasses.replace(answer, notes=(*answer.notes, ENGLISH_ONLY_NOTE))


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
        kind=source.kind,
        primary_sources=source.primary_sources,
    )
