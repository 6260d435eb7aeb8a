"""What every answer path builds from retrieved passages: a citation of a passage, a refusal naming the
closest sources. Shared by the extractive and the generative answers and the moderators' FAQ citations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.types import Answer, AnswerMode, Citation

if TYPE_CHECKING:
    from rag.types import Passage, SearchResult, SourceInfo

REFUSAL = "My sources don't cover that."


def closest_sources(result: SearchResult, limit: int = 3) -> tuple[SourceInfo, ...]:
    """The first `limit` distinct sources among the passages, best first: shown with a refusal."""
    seen: dict[str, SourceInfo] = {}
    for p in result.passages:
        seen.setdefault(p.chunk.source.id, p.chunk.source)
    return tuple(seen.values())[:limit]


def refusal(result: SearchResult, mode: AnswerMode = "extractive", text: str = REFUSAL) -> Answer:
    return Answer(text, (), grounded=False, refused=True, mode=mode, closest=closest_sources(result))


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
