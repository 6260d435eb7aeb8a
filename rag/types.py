"""The core's value types: frozen dataclasses passed between ingestion, retrieval and answering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Section:
    """A run of a document's text under one heading path (a PDF page counts as a section)."""

    heading_path: tuple[str, ...]
    text: str
    start: int  # character offset of `text` in Document.text
    page: int | None = None


@dataclass(frozen=True, slots=True)
class PrimarySource:
    """A source a curated brief is written from (its front matter `sources:`), so a reader can check it."""

    title: str
    url: str = ""
    confirmed: bool = True  # False: the address is given from memory and was not checked


@dataclass(frozen=True, slots=True)
class Document:
    """One source file, loaded and normalised."""

    source_id: str  # stable id: the file path relative to the corpus root, without suffix
    path: str
    title: str
    text: str
    sections: tuple[Section, ...]
    content_hash: str
    url: str = ""
    publisher: str = ""
    published: str = ""
    kind: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    primary_sources: tuple[PrimarySource, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a citation or search result says about the source a passage came from."""

    id: str
    title: str
    url: str = ""
    publisher: str = ""
    published: str = ""
    kind: str = ""
    primary_sources: tuple[PrimarySource, ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrieval unit: a piece of one section, small enough for the embedding model's window."""

    chunk_id: str
    source: SourceInfo
    text: str
    heading_path: tuple[str, ...]
    start: int
    end: int
    page: int | None = None

    @property
    def section(self) -> str:
        label = " › ".join(self.heading_path)
        if self.page is not None:
            label = f"{label} (p. {self.page})" if label else f"p. {self.page}"
        return label

    @property
    def embedding_text(self) -> str:
        """What the embedder sees: the heading path gives short passages their context."""
        context = " › ".join((self.source.title, *self.heading_path))
        return f"{context}\n{self.text}"


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk with its fused score and the signals behind it."""

    chunk: Chunk
    score: float
    dense_similarity: float | None = None
    lexical_score: float | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Ranked passages, and whether any of them is relevant to the query at all."""

    query: str
    passages: tuple[Passage, ...]
    relevant: bool
    mode: str  # "hybrid" or "lexical"
    pairs: tuple[tuple[str, str], ...] = ()  # (correcting chunk id, corrected claim chunk id) both in passages


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    chunk_id: str
    title: str
    url: str
    published: str
    section: str
    quote: str
    publisher: str = ""
    outdated: bool = False  # published longer ago than the configured age: policy facts may have changed
    kind: str = ""  # the source's front matter `kind` ("brief": written by the curators from primary sources)
    # What a curated brief was written from: a reader checks the brief's claims there.
    primary_sources: tuple[PrimarySource, ...] = ()

    @property
    def curated(self) -> bool:
        """A curated brief: its own page is not the evidence, its primary sources are."""
        return self.kind == "brief"


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hit_tokens: int | None = None  # DeepSeek's prompt_cache_hit_tokens
    cache_miss_tokens: int | None = None


AnswerMode = Literal["generative", "extractive", "faq"]


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    grounded: bool
    refused: bool
    mode: AnswerMode
    closest: tuple[SourceInfo, ...] = ()
    model: str = ""
    usage: Usage | None = None
    notes: tuple[str, ...] = ()  # shown with the answer: a fallback served it, the stream was cut, ...
    flagged: tuple[str, ...] = ()  # cited sentences their passage does not appear to support
    faq_id: int | None = None  # mode "faq": the moderator-approved entry that answered


# --- what streams yield --------------------------------------------------------------------------------
# One vocabulary: a chat model's stream yields ChatEvent; an answer stream passes its Thinking and Delta on,
# keeps the rest for the answer, and ends with Final. `rag.response.AnswerStream` is the one consumer.
@dataclass(frozen=True, slots=True)
class Thinking:
    """The model is reasoning; `text` is its reasoning so far in this event (never part of the answer)."""

    text: str


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of answer text, as generated (citation numbers are final only in `Final`)."""

    text: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    usage: Usage


@dataclass(frozen=True, slots=True)
class StreamCut:
    """The stream broke after output had started; what arrived stands."""

    reason: str


@dataclass(frozen=True, slots=True)
class ServedBy:
    """A fallback model answered instead of the primary one."""

    model: str
    reason: str


@dataclass(frozen=True, slots=True)
class Final:
    answer: Answer


ChatEvent = Thinking | Delta | UsageReport | StreamCut | ServedBy
AnswerEvent = Thinking | Delta | Final
