"""The review queue: what the bot could not answer (refused questions, 👎 votes, "Ask a human" presses), kept as
cards for moderators, one card per question however often it comes back.

A question is put on the open card it matches the way FAQ entries are matched (curation.faq.FaqMatcher, the
same scores and threshold); otherwise it opens a card. Discord-free: the bot turns its signals into `Sighting`s
and renders the cards it gets back."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import func, select, update

from curation.db.models import ReviewCard
from rag.text import clean_text

if TYPE_CHECKING:
    from curation.db import Database
    from curation.faq import FaqMatcher

log = logging.getLogger(__name__)

Kind = Literal["refused", "downvote", "human"]
Status = Literal["open", "resolved", "dismissed"]
KINDS: tuple[Kind, ...] = ("refused", "downvote", "human")
QUESTION_MAX_CHARS = 1000  # a card quotes the question; Discord's own message limit is 2,000
MAX_PLACES = 25  # places remembered per card: enough to spot the same 👎 pressed twice, and to link a few
MAX_CLOSEST = 5
_COLUMNS: dict[Kind, str] = {"refused": "refused", "downvote": "downvotes", "human": "humans"}


@dataclass(frozen=True, slots=True)
class Sighting:
    """One signal: a question the bot refused, an answer someone voted 👎, a member asking for a human."""

    kind: Kind
    guild_id: int
    channel_id: int  # where it was asked: a channel, a thread or a forum post
    message_id: int | None  # the message to jump to
    question: str
    user_id: int  # who asked, voted or pressed
    answer_id: str | None = None  # the logged answer, when there is one
    closest: tuple[str, ...] = ()  # the closest sources found (Markdown links or titles)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a card's question came up."""

    kind: Kind
    channel_id: int
    message_id: int | None
    user_id: int
    answer_id: str | None = None


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    guild_id: int
    question: str
    counts: dict[Kind, int]
    places: tuple[Place, ...]
    closest: tuple[str, ...]
    status: Status
    opened_at: datetime
    last_seen_at: datetime
    card_channel_id: int | None = None
    card_message_id: int | None = None
    resolved_by: int | None = None
    resolution: str | None = None
    faq_id: int | None = None
    resolved_at: datetime | None = None

    @property
    def updated_at(self) -> datetime:
        """What FaqMatcher keys its cached vector on: a card's question never changes once it is open."""
        return self.opened_at

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Recorded:
    card: Card
    new: bool  # a card was opened (post it) rather than an open one counted again (edit it)
    counted: bool  # False when this very signal was on the card already (the same 👎 pressed twice)


class ReviewQueue:
    """The guilds' review cards in the database. Callers serialise `record` per guild (the bot does), so two
    similar questions at once never open two cards."""

    def __init__(self, db: Database, matcher: FaqMatcher) -> None:
        self.db = db
        self.matcher = matcher  # its own instance: card ids and FAQ ids must not share a vector cache

    async def record(self, sighting: Sighting) -> Recorded:
        """Count the sighting on the open card asking the same thing, or open a card for it."""
        question = _question(sighting.question)
        cards = await self.open_cards(sighting.guild_id)
        match = await asyncio.to_thread(self.matcher.match, question, cards) if cards else None
        now = datetime.now(UTC)
        async with self.db.transaction(write=True) as session:
            row = None if match is None else await session.scalar(_open_card(match[0].id, sighting.guild_id))
            if row is None:  # nothing similar, or that card was closed a moment ago
                row = _new_row(sighting, question, now)
                session.add(row)
                await session.flush()
                log.info("review card %d opened in guild %d (%s)", row.id, row.guild_id, sighting.kind)
                return Recorded(_card(row), new=True, counted=True)
            counted = _count(row, sighting, now)
            await session.flush()
            return Recorded(_card(row), new=False, counted=counted)

    async def set_message(self, card_id: int, guild_id: int, channel_id: int, message_id: int) -> None:
        """Remember the message showing the card, so later signals edit it."""
        query = (
            update(ReviewCard)
            .where(ReviewCard.id == card_id, ReviewCard.guild_id == guild_id)
            .values(card_channel_id=channel_id, card_message_id=message_id)
        )
        async with self.db.transaction(write=True) as session:
            await session.execute(query)

    async def close(
        self, card_id: int, guild_id: int, *, status: Status, by: int, how: str, faq_id: int | None = None
    ) -> Card | None:
        """Resolve or dismiss an open card; None when the guild has no such open card (another moderator
        closed it first: only one of them gets it)."""
        async with self.db.transaction(write=True) as session:
            row = await session.scalar(_open_card(card_id, guild_id))
            if row is None:
                return None
            row.status, row.resolved_by, row.resolution, row.faq_id = status, by, how, faq_id
            row.resolved_at = datetime.now(UTC)
            await session.flush()
            return _card(row)

    async def get(self, card_id: int, guild_id: int) -> Card | None:
        query = select(ReviewCard).where(ReviewCard.id == card_id, ReviewCard.guild_id == guild_id)
        async with self.db.transaction() as session:
            row = await session.scalar(query)
            return _card(row) if row is not None else None

    async def open_cards(self, guild_id: int) -> list[Card]:
        query = select(ReviewCard).where(ReviewCard.guild_id == guild_id, ReviewCard.status == "open")
        async with self.db.transaction() as session:
            return [_card(row) for row in await session.scalars(query.order_by(ReviewCard.id))]

    async def open_count(self, guild_id: int) -> int:
        """How many cards wait for a moderator (what /stats shows)."""
        query = select(func.count()).where(ReviewCard.guild_id == guild_id, ReviewCard.status == "open")
        async with self.db.transaction() as session:
            return int(await session.scalar(query) or 0)


def _question(text: str) -> str:
    text = " ".join(clean_text(text).split())
    return text if len(text) <= QUESTION_MAX_CHARS else text[: QUESTION_MAX_CHARS - 1].rstrip() + "…"


def _open_card(card_id: int, guild_id: int) -> Any:
    return select(ReviewCard).where(
        ReviewCard.id == card_id, ReviewCard.guild_id == guild_id, ReviewCard.status == "open"
    )


def _place(sighting: Sighting) -> dict[str, Any]:
    return {
        "kind": sighting.kind,
        "channel_id": sighting.channel_id,
        "message_id": sighting.message_id,
        "user_id": sighting.user_id,
        "answer_id": sighting.answer_id,
    }


def _new_row(sighting: Sighting, question: str, now: datetime) -> ReviewCard:
    counts = {column: int(kind == sighting.kind) for kind, column in _COLUMNS.items()}
    return ReviewCard(
        guild_id=sighting.guild_id,
        question=question,
        **counts,
        places=[_place(sighting)],
        closest=list(dict.fromkeys(sighting.closest))[:MAX_CLOSEST],
        status="open",
        opened_at=now,
        last_seen_at=now,
    )


def _count(row: ReviewCard, sighting: Sighting, now: datetime) -> bool:
    """Add the sighting to the card; False (and nothing changed) when the same person already raised this
    same signal about the same answer."""
    place = _place(sighting)
    key = ("kind", "answer_id", "user_id")
    if sighting.answer_id is not None and any(all(p.get(k) == place[k] for k in key) for p in row.places):
        return False
    column = _COLUMNS[sighting.kind]
    setattr(row, column, getattr(row, column) + 1)
    # New lists, not appends: the JSON columns are not mutation-tracked.
    if len(row.places) < MAX_PLACES:
        row.places = [*row.places, place]
    row.closest = list(dict.fromkeys([*row.closest, *sighting.closest]))[:MAX_CLOSEST]
    row.last_seen_at = now
    return True


def _card(row: ReviewCard) -> Card:
    return Card(
        id=row.id,
        guild_id=row.guild_id,
        question=row.question,
        counts={kind: int(getattr(row, column)) for kind, column in _COLUMNS.items()},
        places=tuple(_place_of(p) for p in row.places),
        closest=tuple(row.closest),
        status=cast("Status", row.status),
        opened_at=row.opened_at,
        last_seen_at=row.last_seen_at,
        card_channel_id=row.card_channel_id,
        card_message_id=row.card_message_id,
        resolved_by=row.resolved_by,
        resolution=row.resolution,
        faq_id=row.faq_id,
        resolved_at=row.resolved_at,
    )


def _place_of(data: dict[str, Any]) -> Place:
    kind = data.get("kind")
    return Place(
        kind=cast("Kind", kind if kind in KINDS else "refused"),
        channel_id=int(data["channel_id"]),
        message_id=int(data["message_id"]) if data.get("message_id") is not None else None,
        user_id=int(data.get("user_id") or 0),
        answer_id=data.get("answer_id"),
    )
