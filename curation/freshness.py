"""Whether an FAQ entry can still be trusted: its review date, and the sources it cites against the index now.

Pure functions: the caller reads the index (RagService.sources and .chunks) and the entries, these compare."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from curation.db.records import CitedSource

if TYPE_CHECKING:
    from curation.db.records import FaqRecord
    from rag.catalog import DocumentRecord
    from rag.types import Chunk, Citation


@dataclass(frozen=True, slots=True)
class Freshness:
    """What /faq list flags about an entry; nothing set: nothing to look at."""

    review_due: date | None = None  # the review date, once it has passed
    changed: tuple[str, ...] = ()  # titles of cited sources whose text changed since the entry was saved
    removed: tuple[str, ...] = ()  # titles of cited sources no longer indexed

    @property
    def stale(self) -> bool:
        return bool(self.review_due or self.changed or self.removed)


def cited_sources(
    citations: Iterable[Citation], chunks: Mapping[str, Chunk], docs: Sequence[DocumentRecord]
) -> tuple[CitedSource, ...]:
    """The versions of the sources `citations` quote, from the live chunks (`RagService.chunks`) and documents
    (`RagService.sources`): what an entry records when it is saved. A citation whose passage is already gone
    records nothing; `check` still notices it."""
    hashes = {d.source.id: d.content_hash for d in docs}
    found: dict[str, CitedSource] = {}
    for citation in citations:
        chunk = chunks.get(citation.chunk_id)
        if chunk is not None and chunk.source.id in hashes and chunk.source.id not in found:
            sid = chunk.source.id
            found[sid] = CitedSource(sid, hashes[sid], chunk.source.title or citation.title)
    return tuple(found.values())


def check(entry: FaqRecord, docs: Sequence[DocumentRecord], live_chunks: Collection[str], today: date) -> Freshness:
    """Compare the entry with the index now. Recorded versions say "changed" (another content hash) or
    "removed" (the source is gone). A cited passage no longer indexed, whose source was not recorded (entries
    saved before versions were kept), is matched to the live sources by URL or title: found means its text
    changed, not found means it was removed."""
    by_id = {d.source.id: d for d in docs}
    changed: dict[str, None] = {}
    removed: dict[str, None] = {}
    for cited in entry.cited_sources or ():
        doc = by_id.get(cited.source_id)
        if doc is None:
            removed[cited.title] = None
        elif doc.content_hash != cited.content_hash:
            changed[doc.source.title or cited.title] = None
    recorded_titles = {c.title for c in entry.cited_sources or ()}
    for citation in entry.citations:
        if citation.chunk_id in live_chunks or citation.title in recorded_titles:
            continue
        target = changed if _still_indexed(citation, docs) else removed
        target[citation.title] = None
    due = entry.review_by if entry.review_by is not None and entry.review_by < today else None
    return Freshness(due, tuple(changed), tuple(k for k in removed if k not in changed))


def _still_indexed(citation: Citation, docs: Sequence[DocumentRecord]) -> bool:
    return any(
        (citation.url and d.source.url == citation.url) or (citation.title and d.source.title == citation.title)
        for d in docs
    )
