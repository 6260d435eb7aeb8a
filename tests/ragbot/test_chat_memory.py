"""`ragbot chat` remembers what the conversation is about, and its /sources names a brief's primary sources."""

from __future__ import annotations

from dataclasses import replace

from helpers import BRIEF_CITATION

from rag.types import Answer
from ragbot.chat import HISTORY_MESSAGES, Conversation, render_sources

BRIEF = replace(BRIEF_CITATION, chunk_id="b#1", section="")  # a passage without a section heading


def _answer(text: str) -> Answer:
    return Answer(text, (BRIEF,), True, False, "generative")


def test_a_long_conversation_keeps_its_opening_question_and_the_newest_turns() -> None:
    conversation = Conversation()
    conversation.record("Who founded DeepSeek?", _answer("Liang Wenfeng [1]."))
    for i in range(8):
        conversation.record(f"follow-up {i}", _answer(f"answer {i} [1]."))
    turns = [(t.role, t.content) for t in conversation.turns]
    assert len(turns) == HISTORY_MESSAGES
    assert turns[:2] == [("user", "Who founded DeepSeek?"), ("assistant", "Liang Wenfeng [1].")]
    assert turns[-2:] == [("user", "follow-up 7"), ("assistant", "answer 7 [1].")]
    assert ("user", "follow-up 3") not in turns


def test_sources_name_a_briefs_primary_sources() -> None:
    shown = render_sources(_answer("Nvidia fell [1]."))
    assert shown.splitlines() == [
        "[1] The Nvidia sell-off of January 27, 2025 (curated brief, ragbot curators, 2026-11-28)",
        '    "Nvidia closed down about 17%."',
        "    primary sources:",
        "      - CNBC, Jan 27, 2025 <https://www.cnbc.com/nvidia> (link not confirmed)",
        "      - DeepSeek-V3 Technical Report <https://arxiv.org/abs/2412.19437>",
    ]
