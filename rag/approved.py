"""Moderator-approved answers as the core sees them: a small protocol it asks, and the type it gets back.

The core never knows where approved answers are kept (curation/ keeps them in a database) or how they are
matched; it asks once per question, before retrieval, and answers with the entry when there is one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rag.types import Citation


@dataclass(frozen=True, slots=True)
class ApprovedAnswer:
    """One server's moderator-approved answer to a question."""

    id: int
    question: str
    answer: str
    citations: tuple[Citation, ...]


class ApprovedAnswers(Protocol):
    async def find(self, question: str, guild_id: int) -> ApprovedAnswer | None:
        """The approved answer for this question in this server, or None. Only that server's entries count."""
        ...
