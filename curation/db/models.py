"""The tables, as SQLAlchemy 2 declarative models. Changing them means a new revision in migrations/versions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Alembic's table of applied revisions; our own name, so another application's Alembic in a shared
# PostgreSQL database is never mistaken for ours.
VERSION_TABLE = "ragbot_schema_version"


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite keeps no offset, so every value is stored as UTC and comes back
    tagged as UTC; naive values given to it are taken to be UTC already."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class FaqEntry(Base):
    """A moderator-curated question and answer of one guild."""

    __tablename__ = "faq_entries"
    __table_args__ = (Index("ix_faq_entries_guild", "guild_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    author_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)  # the bot answer it was pinned from
    pinned_message_id: Mapped[int | None] = mapped_column(BigInteger)  # the message posted for it, if any
    # Freshness (revision 0003): how often the entry answered, until when it is trusted, and the versions of
    # the sources it cites as they were when it was saved ([{source_id, content_hash, title}]; NULL: not
    # recorded, as for entries saved before 0003), so /faq list can say which changed or went away.
    use_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    review_by: Mapped[date | None] = mapped_column(Date)
    cited_sources: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)


class Vote(Base):
    """One 👍 (+1) or 👎 (-1) per user and answer; voting again replaces it."""

    __tablename__ = "votes"
    __table_args__ = (
        CheckConstraint("vote IN (-1, 1)", name="ck_votes_vote"),
        Index("ix_votes_guild_at", "guild_id", "at"),
    )

    # The primary key is the (answer_id, user_id) uniqueness the upsert relies on.
    answer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    vote: Mapped[int] = mapped_column(Integer)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class AnswerLog(Base):
    """Every answer given: what the Sources button shows, what "Pin as FAQ" copies, what insight counts."""

    __tablename__ = "answer_log"
    __table_args__ = (Index("ix_answer_log_guild_at", "guild_id", "at"),)

    answer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)  # None: a DM
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    question: Mapped[str] = mapped_column(Text)
    # Case- and whitespace-folded question: "top questions" group on it in SQL on every backend.
    question_key: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    refused: Mapped[bool] = mapped_column(Boolean)
    grounded: Mapped[bool] = mapped_column(Boolean)
    mode: Mapped[str] = mapped_column(String(32))  # "generative", "extractive" or "faq"
    model: Mapped[str] = mapped_column(String(200))
    latency_ms: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    faq_id: Mapped[int | None] = mapped_column(Integer)  # the FAQ entry that answered, if one did
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReviewCard(Base):
    """A gap for moderators (refused questions, 👎 votes, "Ask a human" presses), one card per similar question."""

    __tablename__ = "review_cards"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved', 'dismissed')", name="ck_review_cards_status"),
        Index("ix_review_cards_guild_status", "guild_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    question: Mapped[str] = mapped_column(Text)
    refused: Mapped[int] = mapped_column(Integer)  # how many times each kind of signal hit this card
    downvotes: Mapped[int] = mapped_column(Integer)
    humans: Mapped[int] = mapped_column(Integer)
    # Where it was asked: [{"kind", "channel_id", "message_id", "user_id", "answer_id"}], the first few only.
    places: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    closest: Mapped[list[str]] = mapped_column(JSON)  # the closest sources found, as Markdown links or titles
    status: Mapped[str] = mapped_column(String(16))
    card_channel_id: Mapped[int | None] = mapped_column(BigInteger)  # the card's message in the review channel
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    resolved_by: Mapped[int | None] = mapped_column(BigInteger)
    resolution: Mapped[str | None] = mapped_column(Text)  # how: "wrote FAQ entry #3", "dismissed", ...
    faq_id: Mapped[int | None] = mapped_column(Integer)  # the FAQ entry written from it, if one was
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the latest signal it counted
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
