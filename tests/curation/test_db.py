"""FAQ entries, votes, the answer log, insight and export/import, on SQLite and PostgreSQL (tests/rag/conftest.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from curation.db import Database
from curation.db.records import question_key
from rag.errors import UserFacingError
from rag.types import Answer, Citation, Usage

GUILD_A, GUILD_B = 111_111_111_111_111_111, 222_222_222_222_222_222
CITATION = Citation(1, "deepseek#0", "DeepSeek's founder", "https://example.org/a", "2025-01-27", "Origins", "Liang…")


def _answer(text_: str = "Liang Wenfeng founded it [1].", *, refused: bool = False, grounded: bool = True) -> Answer:
    citations = () if refused else (CITATION,)
    return Answer(text_, citations, grounded, refused, "generative", model="deepseek-chat", usage=Usage(900, 120))


# --- restart ------------------------------------------------------------------------------------------------
async def test_a_restart_keeps_everything(db_url: str) -> None:
    db = await Database.open(db_url)
    entry = await db.add_faq(GUILD_A, "Who founded DeepSeek?", "Liang Wenfeng.", author_id=7, citations=[CITATION])
    await db.log_answer(
        "a1", "Who founded DeepSeek?", _answer(), guild_id=GUILD_A, channel_id=5, user_id=9, latency_ms=840
    )
    await db.record_vote("a1", 9, up=True, guild_id=GUILD_A)
    await db.close()

    db = await Database.open(db_url)
    try:
        assert await db.get_faq(entry.id, GUILD_A) == entry
        stored = await db.get_answer("a1", guild_id=GUILD_A)
        assert stored is not None and stored.citations == (CITATION,) and stored.question == "Who founded DeepSeek?"
        assert await db.votes("a1") == (1, 0)
    finally:
        await db.close()


# --- FAQ entries -----------------------------------------------------------------------------------------
async def test_faq_entries_are_kept_per_guild(db: Database) -> None:
    a = await db.add_faq(GUILD_A, "  Who founded DeepSeek? ", "**Liang Wenfeng**, in 2023.", author_id=7)
    b = await db.add_faq(GUILD_B, "What is the H20?", "An Nvidia chip made for China.", author_id=8)
    assert (a.question, a.answer, a.guild_id) == ("Who founded DeepSeek?", "**Liang Wenfeng**, in 2023.", GUILD_A)

    assert [e.id for e in await db.faqs_for_guild(GUILD_A)] == [a.id]
    assert [e.id for e in await db.faqs_for_guild(GUILD_B)] == [b.id]
    # Guild B can neither see, edit, pin nor remove guild A's entry.
    assert await db.get_faq(a.id, GUILD_B) is None
    assert await db.update_faq(a.id, GUILD_B, answer="Someone else.") is None
    assert await db.set_pinned_message(a.id, GUILD_B, 42) is False
    assert await db.remove_faq(a.id, GUILD_B) is False
    assert await db.get_faq(a.id, GUILD_A) == a

    edited = await db.update_faq(a.id, GUILD_A, answer="Liang Wenfeng.", citations=[CITATION])
    assert edited is not None and edited.answer == "Liang Wenfeng." and edited.question == a.question
    assert edited.citations == (CITATION,) and edited.updated_at > a.updated_at and edited.created_at == a.created_at
    assert await db.set_pinned_message(a.id, GUILD_A, 42) is True
    pinned = await db.get_faq(a.id, GUILD_A)
    assert pinned is not None and pinned.pinned_message_id == 42
    assert await db.remove_faq(a.id, GUILD_A) is True
    assert await db.get_faq(a.id, GUILD_A) is None and await db.remove_faq(a.id, GUILD_A) is False
    assert [e.id for e in await db.faqs_for_guild(GUILD_B)] == [b.id]


async def test_faq_pages(db: Database) -> None:
    ids = [(await db.add_faq(GUILD_A, f"Question {n}?", f"Answer {n}.", author_id=1)).id for n in range(7)]
    await db.add_faq(GUILD_B, "Elsewhere?", "Yes.", author_id=1)
    page, total = await db.list_faqs(GUILD_A, offset=5, limit=5)
    assert total == 7 and [e.id for e in page] == ids[5:]


async def test_bad_faq_text_is_refused_with_a_reason_and_nothing_is_stored(db: Database) -> None:
    cases = [
        ("Who?", "   ", "The answer is empty."),
        ("Who?", "x" * 10_000, "The answer is too long (10,000 characters; at most 1,800)."),
        ("Who?", "Ask @everyone.", "The answer mentions @everyone, @here or a role; remove the mention."),
    ]
    for question, answer, message in cases:
        with pytest.raises(UserFacingError) as info:
            await db.add_faq(GUILD_A, question, answer, author_id=1)
        assert str(info.value) == message
    entry = await db.add_faq(GUILD_A, "Who?", "Fine.", author_id=1)
    with pytest.raises(UserFacingError, match=r"^The question is empty\.$"):
        await db.update_faq(entry.id, GUILD_A, question="")
    assert await db.faqs_for_guild(GUILD_A) == [entry]


# --- votes and the answer log -----------------------------------------------------------------------------
async def test_hundreds_of_concurrent_votes_lose_nothing(db: Database) -> None:
    await db.log_answer(
        "hot", "Who founded DeepSeek?", _answer(), guild_id=GUILD_A, channel_id=1, user_id=1, latency_ms=1
    )
    users = range(250)
    first = {u: u % 3 != 0 for u in users}  # 166 up, 84 down

    async def clicks(user: int) -> None:
        if user < 200:  # a double click: the same vote twice at once counts once
            await asyncio.gather(*(db.record_vote("hot", user, first[user], GUILD_A) for _ in range(2)))
        else:  # a change of mind: the second vote replaces the first
            await db.record_vote("hot", user, first[user], GUILD_A)
            await db.record_vote("hot", user, not first[user], GUILD_A)

    await asyncio.gather(*(clicks(u) for u in users))  # 500 calls, 450 of them in flight at once
    final = {u: first[u] if u < 200 else not first[u] for u in users}
    expected = (sum(final.values()), len(users) - sum(final.values()))
    assert expected == (150, 100)
    assert await db.votes("hot") == expected
    assert (await db.stats(GUILD_A, datetime.now(UTC) - timedelta(hours=1))).up == expected[0]


async def test_a_logged_answer_is_found_only_where_it_was_given(db: Database) -> None:
    await db.log_answer("g", "Who?", _answer(), guild_id=GUILD_A, channel_id=3, user_id=4, latency_ms=10)
    await db.log_answer("dm", "Who?\x00", _answer(), guild_id=None, channel_id=None, user_id=4, latency_ms=10)
    stored = await db.get_answer("g", guild_id=GUILD_A)
    assert stored is not None and stored.text == "Liang Wenfeng founded it [1]." and stored.citations == (CITATION,)
    assert stored.grounded and not stored.refused and stored.model == "deepseek-chat"
    assert await db.get_answer("g", guild_id=GUILD_B) is None and await db.get_answer("g", guild_id=None) is None
    in_dm = await db.get_answer("dm", guild_id=None)
    assert in_dm is not None and in_dm.question == "Who?"
    assert await db.get_answer("dm", guild_id=GUILD_A) is None and await db.get_answer("nope", guild_id=GUILD_A) is None


async def test_stats_over_a_hand_made_log(db: Database) -> None:
    async def log(answer_id: str, question: str, latency: int, guild: int = GUILD_A, **kind: bool) -> None:
        answer = _answer(refused=kind.get("refused", False), grounded=kind.get("grounded", True))
        await db.log_answer(answer_id, question, answer, guild_id=guild, channel_id=1, user_id=2, latency_ms=latency)

    await log("old", "What is the weather?", 99_999, refused=True, grounded=False)  # before the period
    since = datetime.now(UTC)
    await log("r1", "What is the weather?", 100, refused=True, grounded=False)
    await log("r2", "WHAT is the  weather? ", 200, refused=True, grounded=False)
    await log("r3", "Tell me a joke", 300, refused=True, grounded=False)
    await log("u1", "Is the H20 banned?", 400, grounded=False)
    await log("u2", "Who runs Nvidia?", 500, grounded=False)
    for n, latency in enumerate((600, 700, 800, 900, 1000)):
        await log(f"ok{n}", f"Who founded DeepSeek {n}?", latency)
    await log("other", "Tell me a joke", 5, guild=GUILD_B, refused=True, grounded=False)
    for user in range(3):
        await db.record_vote("u1", user, up=False, guild_id=GUILD_A)
    await db.record_vote("u2", 1, up=False, guild_id=GUILD_A)
    await db.record_vote("ok0", 1, up=True, guild_id=GUILD_A)
    await db.record_vote("ok1", 1, up=True, guild_id=GUILD_A)
    await db.record_vote("other", 1, up=False, guild_id=GUILD_B)

    stats = await db.stats(GUILD_A, since)
    assert (stats.questions, stats.refused, stats.ungrounded, stats.up, stats.down) == (10, 3, 2, 2, 4)
    assert stats.refusal_rate == 0.3 and stats.ungrounded_rate == pytest.approx(2 / 7)
    assert stats.up_ratio == pytest.approx(2 / 6)
    assert stats.median_latency_ms == pytest.approx(550.0) and stats.p95_latency_ms == pytest.approx(955.0)
    (weather, times), joke = stats.top_refused
    assert (question_key(weather), times) == ("what is the weather?", 2) and joke == ("Tell me a joke", 1)
    assert stats.top_downvoted == (("Is the H20 banned?", 3), ("Who runs Nvidia?", 1))

    everywhere = await db.stats(None, since)
    assert (everywhere.questions, everywhere.refused, everywhere.down) == (11, 4, 5)
    empty = await db.stats(GUILD_A, datetime.now(UTC) + timedelta(days=1))
    assert empty.questions == 0 and empty.refusal_rate is None and empty.median_latency_ms is None


# --- export / import ----------------------------------------------------------------------------------------
async def test_export_then_import_into_another_guild_round_trips(db: Database) -> None:
    await db.add_faq(GUILD_A, "Who founded DeepSeek?", "**Liang Wenfeng**.", author_id=7, citations=[CITATION])
    await db.add_faq(GUILD_A, "What is the H20?", "A chip.\n\n- made for China", author_id=8)
    exported = json.loads(json.dumps(await db.export_faqs(GUILD_A)))  # through JSON, as the CLI writes it
    assert [e["format"] for e in exported] == [1, 1]

    assert await db.import_faqs(exported, GUILD_B, author_id=99) == 2
    copied = await db.faqs_for_guild(GUILD_B)
    originals = await db.faqs_for_guild(GUILD_A)
    assert [(e.question, e.answer, e.citations) for e in copied] == [
        (e.question, e.answer, e.citations) for e in originals
    ]
    assert {e.author_id for e in copied} == {99} and {e.id for e in copied}.isdisjoint(e.id for e in originals)
    assert await db.import_faqs(exported, GUILD_B, author_id=99) == 0  # the same file twice adds nothing
    assert len(await db.export_faqs(None)) == 4


async def test_a_bad_import_entry_changes_nothing(db: Database) -> None:
    good = {"question": "Who founded DeepSeek?", "answer": "Liang Wenfeng."}
    bad_entries = [
        ([good, good | {"question": "Why?"}, {"question": "Empty?", "answer": ""}], "Entry 3: The answer is empty."),
        ([good, {"question": "Q?", "answer": "A.", "citations": [{"n": 1}]}], "Entry 2: a citation lacks chunk_id"),
        ([good, {"format": 2, "question": "Q?", "answer": "A."}], "Entry 2: format 2 is not one this ragbot reads"),
        ([good, "Who?"], "Entry 2: not an object with a question and an answer."),
    ]
    for entries, message in bad_entries:
        with pytest.raises(UserFacingError) as info:
            await db.import_faqs(entries, GUILD_B, author_id=1)
        assert str(info.value).startswith(message)
    with pytest.raises(UserFacingError, match="must hold a JSON list"):
        await db.import_faqs({"question": "Q?"}, GUILD_B, author_id=1)
    assert await db.faqs_for_guild(GUILD_B) == []
