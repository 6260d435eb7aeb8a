"""The review queue's storage, on SQLite and PostgreSQL, with the real ONNX embedder matching questions."""

from __future__ import annotations

import pytest

from curation.db import Database
from curation.faq import FaqMatcher
from curation.review import MAX_CLOSEST, ReviewQueue, Sighting
from rag.embeddings import Embedder

GUILD_A, GUILD_B = 1001, 2002
BREAD = "What's a good recipe for sourdough bread?"
BREAD_AGAIN = "Any good sourdough bread recipe?"
WEATHER = "What is the weather in Paris today?"


def _seen(question: str, kind: str = "refused", **fields: object) -> Sighting:
    values: dict[str, object] = {"guild_id": GUILD_A, "channel_id": 10, "message_id": 20, "user_id": 30} | fields
    return Sighting(kind=kind, question=question, **values)  # type: ignore[arg-type]


@pytest.fixture
def queue(db: Database, embedder: Embedder) -> ReviewQueue:
    return ReviewQueue(db, FaqMatcher(embedder, 0.75))


async def test_a_similar_question_counts_on_the_open_card(queue: ReviewQueue) -> None:
    first = await queue.record(_seen(BREAD, answer_id="a" * 12, closest=("[Bread](<https://e.org/b>)",)))
    assert first.new and first.counted and first.card.counts == {"refused": 1, "downvote": 0, "human": 0}

    again = await queue.record(_seen(BREAD_AGAIN, "downvote", channel_id=11, message_id=21, answer_id="b" * 12))
    assert not again.new and again.counted and again.card.id == first.card.id
    assert again.card.question == BREAD  # the card keeps the first wording
    assert again.card.counts == {"refused": 1, "downvote": 1, "human": 0} and again.card.total == 2
    assert [(p.kind, p.channel_id, p.message_id) for p in again.card.places] == [
        ("refused", 10, 20),
        ("downvote", 11, 21),
    ]
    assert again.card.closest == ("[Bread](<https://e.org/b>)",)

    other = await queue.record(_seen(WEATHER))
    assert other.new and other.card.id != first.card.id
    assert await queue.open_count(GUILD_A) == 2


async def test_the_same_vote_twice_counts_once(queue: ReviewQueue) -> None:
    await queue.record(_seen(BREAD, "downvote", answer_id="c" * 12, user_id=5))
    twice = await queue.record(_seen(BREAD, "downvote", answer_id="c" * 12, user_id=5))
    assert not twice.counted and twice.card.counts["downvote"] == 1
    someone_else = await queue.record(_seen(BREAD, "downvote", answer_id="c" * 12, user_id=6))
    assert someone_else.counted and someone_else.card.counts["downvote"] == 2


async def test_guilds_never_share_cards(queue: ReviewQueue) -> None:
    ours = await queue.record(_seen(BREAD))
    theirs = await queue.record(_seen(BREAD, guild_id=GUILD_B))
    assert theirs.new and theirs.card.id != ours.card.id
    assert await queue.get(ours.card.id, GUILD_B) is None
    assert await queue.close(ours.card.id, GUILD_B, status="dismissed", by=1, how="dismissed") is None
    assert (await queue.open_count(GUILD_A), await queue.open_count(GUILD_B)) == (1, 1)


async def test_a_closed_card_is_closed_once_and_a_new_question_opens_a_new_card(queue: ReviewQueue) -> None:
    card = (await queue.record(_seen(BREAD))).card
    await queue.set_message(card.id, GUILD_A, 77, 88)
    closed = await queue.close(card.id, GUILD_A, status="resolved", by=42, how="wrote FAQ entry #3", faq_id=3)
    assert closed is not None and closed.status == "resolved" and closed.resolved_by == 42
    assert (closed.resolution, closed.faq_id, closed.card_message_id) == ("wrote FAQ entry #3", 3, 88)
    assert closed.resolved_at is not None
    # A second moderator pressing a moment later gets nothing: the first one resolved it.
    assert await queue.close(card.id, GUILD_A, status="dismissed", by=43, how="dismissed") is None
    assert (await queue.get(card.id, GUILD_A)) == closed

    later = await queue.record(_seen(BREAD_AGAIN))
    assert later.new and later.card.id != card.id and await queue.open_count(GUILD_A) == 1


async def test_questions_are_cleaned_and_capped(queue: ReviewQueue) -> None:
    long = "Why\x00 " + "bread " * 400
    card = (await queue.record(_seen(long, closest=tuple(f"source {i}" for i in range(9))))).card
    assert "\x00" not in card.question and len(card.question) == 1000 and card.question.endswith("…")
    assert card.closest == tuple(f"source {i}" for i in range(MAX_CLOSEST))
