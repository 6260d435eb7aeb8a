"""What the database hands out: frozen dataclasses, never ORM objects (those are bound to a session)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from datetime import date, datetime
from typing import Any, get_type_hints

from rag.types import Citation, PrimarySource

_CITATION_TYPES: dict[str, Any] = get_type_hints(Citation)
_NESTED = {"primary_sources"}  # parsed by _primary_sources, not by type
_REQUIRED_CITATION_FIELDS = ("n", "chunk_id", "title")
_TYPE_NAMES = {int: "a number", str: "text", bool: "true or false"}
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class CitedSource:
    """A source an FAQ entry cites, as it was when the entry was saved: a later content hash means it changed."""

    source_id: str
    content_hash: str
    title: str


@dataclass(frozen=True, slots=True)
class FaqRecord:
    id: int
    guild_id: int
    question: str
    answer: str
    citations: tuple[Citation, ...]
    author_id: int
    created_at: datetime
    updated_at: datetime
    channel_id: int | None = None
    message_id: int | None = None  # the bot answer it was pinned from
    pinned_message_id: int | None = None
    use_count: int = 0  # questions it answered
    last_used_at: datetime | None = None
    review_by: date | None = None  # /faq list flags it after this day
    cited_sources: tuple[CitedSource, ...] | None = None  # None: not recorded (saved before revision 0003)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """A logged answer: enough to show its sources again or to pin it as an FAQ entry."""

    answer_id: str
    guild_id: int | None
    channel_id: int | None
    user_id: int
    question: str
    text: str
    citations: tuple[Citation, ...]
    refused: bool
    grounded: bool
    mode: str
    model: str
    at: datetime
    faq_id: int | None = None


@dataclass(frozen=True, slots=True)
class DayCounts:
    """One UTC day of the answer log and the votes. Each question counts under one outcome: refused, answered
    from the FAQ, answered without a valid citation, or answered with one (`cited`)."""

    day: date
    cited: int = 0
    faq: int = 0
    uncited: int = 0
    refused: int = 0
    up: int = 0
    down: int = 0

    @property
    def questions(self) -> int:
        return self.cited + self.faq + self.uncited + self.refused


@dataclass(frozen=True, slots=True)
class Stats:
    """Insight over a period. Rates are None when there is nothing to divide by."""

    since: datetime
    until: datetime | None
    questions: int
    refused: int
    ungrounded: int  # answered (not refused) without a valid citation
    up: int
    down: int
    median_latency_ms: float | None
    p95_latency_ms: float | None
    top_refused: tuple[tuple[str, int], ...]  # (question, times), most frequent first
    top_downvoted: tuple[tuple[str, int], ...]  # (question, 👎 votes), most first
    faq_hits: int = 0  # questions answered by a moderator-approved FAQ entry
    daily: tuple[DayCounts, ...] = ()  # the days with questions or votes, oldest first (the chart's data)
    open_review_cards: int = 0  # review cards waiting for a moderator now, whenever they were opened

    @property
    def refusal_rate(self) -> float | None:
        return self.refused / self.questions if self.questions else None

    @property
    def ungrounded_rate(self) -> float | None:
        """Among answers that were not refusals (a refusal has no citations by design)."""
        answered = self.questions - self.refused
        return self.ungrounded / answered if answered else None

    @property
    def faq_rate(self) -> float | None:
        return self.faq_hits / self.questions if self.questions else None

    @property
    def up_ratio(self) -> float | None:
        """👍 / (👍 + 👎)."""
        return self.up / (self.up + self.down) if self.up + self.down else None


def cited_sources_to_json(sources: Iterable[CitedSource] | None) -> list[dict[str, str]] | None:
    return None if sources is None else [asdict(s) for s in sources]


def cited_sources_from_json(raw: object) -> tuple[CitedSource, ...] | None:
    """Stored or imported cited sources; ValueError says what is malformed."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValueError("cited_sources must be a list")
    out = []
    for item in raw:
        values = [item.get(f) if isinstance(item, Mapping) else None for f in ("source_id", "content_hash", "title")]
        texts = [v for v in values if isinstance(v, str)]
        if len(texts) != len(values):
            raise ValueError("each of cited_sources must have a source_id, a content_hash and a title (text)")
        out.append(CitedSource(*texts))
    return tuple(out)


def question_key(question: str) -> str:
    """The form questions are grouped by: case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", question).strip().casefold()


def citations_to_json(citations: Iterable[Citation]) -> list[dict[str, Any]]:
    return [asdict(c) for c in citations]


def citations_from_json(raw: Iterable[Mapping[str, Any]]) -> tuple[Citation, ...]:
    """Citations from stored or imported dicts. Unknown keys are ignored (a newer export may add some), fields
    an older one lacks take their defaults; ValueError names what is missing or mistyped."""
    return tuple(_citation(item) for item in raw)


def _citation(item: Mapping[str, Any]) -> Citation:
    if not isinstance(item, Mapping):
        raise ValueError("a citation must be an object")
    missing = [name for name in _REQUIRED_CITATION_FIELDS if name not in item]
    if missing:
        raise ValueError(f"a citation lacks {', '.join(missing)}")
    values: dict[str, Any] = {}
    for f in fields(Citation):
        kind = _CITATION_TYPES[f.name]
        if f.name in _NESTED:
            if f.name in item:  # rows stored before primary sources existed simply lack the key
                values[f.name] = _primary_sources(item[f.name])
            continue
        if f.name not in item:
            if f.default is MISSING:
                values[f.name] = kind()  # "" for a text field a hand-written file left out
            continue
        value = item[f.name]
        # bool is an int to isinstance, and a citation number of True is a mistake.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"a citation's {f.name} must be {_TYPE_NAMES.get(kind, str(kind))}")
        values[f.name] = value
    return Citation(**values)


def _primary_sources(raw: Any) -> tuple[PrimarySource, ...]:
    """A citation's `primary_sources`: a list of {title, url, confirmed}; url and confirmed may be left out."""
    if not isinstance(raw, list | tuple):
        raise ValueError("a citation's primary_sources must be a list")
    out: list[PrimarySource] = []
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("title"), str):
            raise ValueError("each of a citation's primary_sources must be an object with a title")
        url, confirmed = entry.get("url", ""), entry.get("confirmed", True)
        if not isinstance(url, str) or not isinstance(confirmed, bool):
            raise ValueError("a primary source's url must be text and its confirmed true or false")
        out.append(PrimarySource(entry["title"], url, confirmed))
    return tuple(out)
