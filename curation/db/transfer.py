"""FAQ export and import (`ragbot faq export/import`): JSON-ready dicts out, every entry checked before any goes in.

Each exported entry carries `"format": 1`, so a plain JSON list of entries describes itself. Fields added since
(uses, last use, review date, cited sources' versions) are optional: files written before them still import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from curation.db.records import (
    CitedSource,
    FaqRecord,
    citations_from_json,
    citations_to_json,
    cited_sources_from_json,
    cited_sources_to_json,
    question_key,
)
from curation.faq import parse_review_date, validate_faq
from rag.errors import UserFacingError
from rag.types import Citation

FORMAT = 1


@dataclass(frozen=True, slots=True)
class ImportedFaq:
    question: str
    answer: str
    citations: tuple[Citation, ...]
    use_count: int = 0
    last_used_at: datetime | None = None
    review_by: date | None = None
    cited_sources: tuple[CitedSource, ...] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Two entries with this equal are the same entry (a file imported twice adds nothing)."""
        return question_key(self.question), self.answer


def export_entry(record: FaqRecord) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "id": record.id,
        "guild_id": record.guild_id,
        "question": record.question,
        "answer": record.answer,
        "citations": citations_to_json(record.citations),
        "author_id": record.author_id,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "channel_id": record.channel_id,
        "message_id": record.message_id,
        "pinned_message_id": record.pinned_message_id,
        "use_count": record.use_count,
        "last_used_at": record.last_used_at.isoformat() if record.last_used_at else None,
        "review_by": record.review_by.isoformat() if record.review_by else None,
        "cited_sources": cited_sources_to_json(record.cited_sources),
    }


def parse_entries(entries: object) -> list[ImportedFaq]:
    """Every entry validated, or UserFacingError naming the first bad one (numbered from 1) and what is wrong."""
    if not isinstance(entries, Sequence) or isinstance(entries, str | bytes):
        raise UserFacingError("The file must hold a JSON list of FAQ entries.")
    return [_parse_entry(n, entry) for n, entry in enumerate(entries, 1)]


def _parse_entry(n: int, entry: object) -> ImportedFaq:
    if not isinstance(entry, Mapping):
        raise UserFacingError(f"Entry {n}: not an object with a question and an answer.")
    version = entry.get("format", FORMAT)
    if version != FORMAT:
        raise UserFacingError(f"Entry {n}: format {version!r} is not one this ragbot reads ({FORMAT}).")
    question, answer = entry.get("question"), entry.get("answer")
    if not isinstance(question, str) or not isinstance(answer, str):
        raise UserFacingError(f"Entry {n}: the question and the answer must both be text.")
    try:
        question, answer = validate_faq(question, answer)
        citations = entry.get("citations") or []
        if not isinstance(citations, list):
            raise ValueError("citations must be a list")
        return ImportedFaq(
            question,
            answer,
            citations_from_json(citations),
            use_count=_use_count(entry.get("use_count", 0)),
            last_used_at=_moment(entry.get("last_used_at")),
            review_by=_review_by(entry.get("review_by")),
            cited_sources=cited_sources_from_json(entry.get("cited_sources")),
        )
    except (UserFacingError, ValueError) as exc:
        raise UserFacingError(f"Entry {n}: {exc}") from None


def _use_count(raw: object) -> int:
    if raw is None:
        return 0
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise ValueError("use_count must be a whole number, 0 or more")
    return raw


def _moment(raw: object) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError("last_used_at must be a date and time like 2026-05-01T12:00:00+00:00")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _review_by(raw: object) -> date | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError("review_by must be a date like 2027-03-31")
    return parse_review_date(raw)
