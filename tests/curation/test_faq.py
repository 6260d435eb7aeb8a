"""FAQ validation and matching, with the real ONNX embedder and a real (SQLite) database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from curation.db import Database, FaqRecord, resolve_url
from curation.faq import FaqMatcher, asks_differently, lexical_overlap, validate_faq
from rag.embeddings import Embedder
from rag.errors import UserFacingError

GUILD_A, GUILD_B = 1001, 2002


def _entry(entry_id: int, question: str, answer: str = "An answer.", guild: int = GUILD_A) -> FaqRecord:
    when = datetime(2025, 1, 27, tzinfo=UTC)
    return FaqRecord(entry_id, guild, question, answer, (), 7, when, when)


ENTRIES = [
    _entry(1, "Who founded DeepSeek?", "Liang Wenfeng, who also runs the hedge fund High-Flyer."),
    _entry(2, "What are the export rules for the Nvidia H20?"),
    _entry(3, "How do I ask the bot a question in a thread?"),
]


@pytest.mark.parametrize(
    ("question", "answer", "message"),
    [
        ("", "Liang Wenfeng.", "The question is empty."),
        ("Who founded DeepSeek?", " \n\t", "The answer is empty."),
        ("x" * 301, "Liang Wenfeng.", "The question is too long (301 characters; at most 300)."),
        ("Who founded DeepSeek?", "x" * 10_000, "The answer is too long (10,000 characters; at most 1,800)."),
        (
            "Who founded DeepSeek?",
            "Ask @everyone!",
            "The answer mentions @everyone, @here or a role; remove the mention.",
        ),
        ("@here who?", "Liang Wenfeng.", "The question mentions @everyone, @here or a role; remove the mention."),
        ("Who?", "Ping <@&123456789012345678>", "The answer mentions @everyone, @here or a role; remove the mention."),
        ("Who?", "Liang\x00Wenfeng", "The answer contains control characters; remove them."),
    ],
)
def test_bad_faq_text_gets_a_clear_message(question: str, answer: str, message: str) -> None:
    with pytest.raises(UserFacingError) as info:
        validate_faq(question, answer)
    assert str(info.value) == message


def test_markdown_and_limits_are_accepted() -> None:
    answer = "**Liang Wenfeng** founded it:\n\n- in 2023\n- from `High-Flyer`\n\n> see [the article](https://e.org)"
    assert validate_faq("  Who founded DeepSeek?\n", answer + "  ") == ("Who founded DeepSeek?", answer)
    assert validate_faq("q" * 300, "a" * 1800) == ("q" * 300, "a" * 1800)
    assert validate_faq("Who is <@123>?", "A user, not a mass mention.")[0] == "Who is <@123>?"


def test_word_overlap_and_question_words() -> None:
    assert lexical_overlap("who founded deepseek", "Who founded DeepSeek?") == 1.0
    assert lexical_overlap("What is the weather?", "Who founded DeepSeek?") == 0.0
    assert asks_differently("When was DeepSeek founded?", "Who founded DeepSeek?")
    assert not asks_differently("What year was DeepSeek founded?", "When was DeepSeek founded?")
    assert not asks_differently("Tell me who founded DeepSeek", "Who founded DeepSeek?")


def test_the_matcher_finds_a_paraphrase_and_rejects_other_questions(embedder: Embedder) -> None:
    matcher = FaqMatcher(embedder, 0.75)
    found = matcher.match("who set up deepseek?", ENTRIES)
    assert found is not None and found[0].id == 1 and 0.75 <= found[1] <= 1.0
    for other in ("What is the weather in Paris today?", "Who founded OpenAI?", "When was DeepSeek founded?"):
        assert matcher.match(other, ENTRIES) is None, other
    assert matcher.match("who set up deepseek?", []) is None


def test_an_edited_entry_is_matched_by_its_new_question(embedder: Embedder) -> None:
    matcher = FaqMatcher(embedder, 0.75)
    assert matcher.match("who set up deepseek?", ENTRIES[:1]) is not None
    # Same id, new updated_at: the cached vector of the old question must not be used.
    edited = replace(ENTRIES[0], question="What is the weather in Paris?", updated_at=datetime(2025, 2, 1, tzinfo=UTC))
    assert matcher.match("who set up deepseek?", [edited]) is None
    assert matcher.match("what's the weather like in paris", [edited]) is not None


def test_without_an_embedder_only_near_identical_wording_matches() -> None:
    matcher = FaqMatcher(None, 0.75)
    assert matcher.match("who founded deepseek", ENTRIES) == (ENTRIES[0], 1.0)
    assert matcher.match("who set up deepseek?", ENTRIES) is None
    assert matcher.match("Who founded OpenAI?", ENTRIES) is None


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(resolve_url(tmp_path / "data"))
    yield database
    await database.close()


async def test_a_guild_is_answered_from_its_own_entries_only(db: Database, embedder: Embedder) -> None:
    theirs = await db.add_faq(GUILD_A, "Who founded DeepSeek?", "Liang Wenfeng.", author_id=7)
    matcher = FaqMatcher(embedder, 0.75)

    found = matcher.match("who set up deepseek?", await db.faqs_for_guild(GUILD_A))
    assert found is not None and found[0] == theirs
    assert matcher.match("who set up deepseek?", await db.faqs_for_guild(GUILD_B)) is None

    ours = await db.add_faq(GUILD_B, "Who started DeepSeek?", "Ask the moderators of guild B.", author_id=8)
    found = matcher.match("who set up deepseek?", await db.faqs_for_guild(GUILD_B))
    assert found is not None and found[0] == ours and found[0].answer == "Ask the moderators of guild B."
