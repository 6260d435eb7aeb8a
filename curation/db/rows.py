"""Table rows to the records the database hands out, and imported entries to new rows."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from curation.db.models import AnswerLog, FaqEntry
from curation.db.records import (
    FaqRecord,
    StoredAnswer,
    citations_from_json,
    citations_to_json,
    cited_sources_from_json,
    cited_sources_to_json,
)

if TYPE_CHECKING:
    from curation.db.transfer import ImportedFaq


def new_entry(guild_id: int, author_id: int, item: ImportedFaq, now: datetime) -> FaqEntry:
    """An imported entry as a new row of `guild_id`: its uses and review date come along (a backup restored
    keeps them); where it was pinned does not (those messages belong to the server it came from)."""
    return FaqEntry(
        guild_id=guild_id,
        question=item.question,
        answer=item.answer,
        citations=citations_to_json(item.citations),
        author_id=author_id,
        created_at=now,
        updated_at=now,
        channel_id=None,
        message_id=None,
        pinned_message_id=None,
        use_count=item.use_count,
        last_used_at=item.last_used_at,
        review_by=item.review_by,
        cited_sources=cited_sources_to_json(item.cited_sources),
    )


def faq_record(entry: FaqEntry) -> FaqRecord:
    return FaqRecord(
        id=entry.id,
        guild_id=entry.guild_id,
        question=entry.question,
        answer=entry.answer,
        citations=citations_from_json(entry.citations),
        author_id=entry.author_id,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        channel_id=entry.channel_id,
        message_id=entry.message_id,
        pinned_message_id=entry.pinned_message_id,
        use_count=entry.use_count or 0,
        last_used_at=entry.last_used_at,
        review_by=entry.review_by,
        cited_sources=cited_sources_from_json(entry.cited_sources),
    )


def stored_answer(row: AnswerLog) -> StoredAnswer:
    return StoredAnswer(
        answer_id=row.answer_id,
        guild_id=row.guild_id,
        channel_id=row.channel_id,
        user_id=row.user_id,
        question=row.question,
        text=row.answer,
        citations=citations_from_json(row.citations),
        refused=row.refused,
        grounded=row.grounded,
        mode=row.mode,
        model=row.model,
        at=row.at,
        faq_id=row.faq_id,
    )
