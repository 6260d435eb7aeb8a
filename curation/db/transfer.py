"""FAQ export and import (`ragbot faq export/import`): JSON-ready dicts out, every entry checked before any goes in.

Each exported entry carries `"format": 1`, so a plain JSON list of entries describes itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from curation.db.records import FaqRecord, citations_from_json, citations_to_json, question_key
from curation.faq import validate_faq
from rag.errors import UserFacingError
from rag.types import Citation

FORMAT = 1


@dataclass(frozen=True, slots=True)
class ImportedFaq:
    question: str
    answer: str
    citations: tuple[Citation, ...]

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
        parsed = citations_from_json(citations)
    except (UserFacingError, ValueError) as exc:
        raise UserFacingError(f"Entry {n}: {exc}") from None
    return ImportedFaq(question, answer, parsed)
