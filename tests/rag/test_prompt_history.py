"""History trimming keeps the question that opened the conversation: "and which fund?" means nothing without it."""

from __future__ import annotations

from rag.prompting import Turn, build_prompt, rewrite_messages, trim_history
from rag.tokens import count_tokens

QUESTION = Turn("user", "Who founded DeepSeek?")


def _long_thread(exchanges: int) -> list[Turn]:
    turns = [QUESTION, Turn("assistant", "DeepSeek was founded by Liang Wenfeng [1].")]
    for i in range(exchanges):
        turns += [Turn("user", f"follow-up {i} about the fund"), Turn("assistant", " ".join(["A long answer."] * 40))]
    return turns


def test_the_opening_question_stays_when_older_turns_are_dropped() -> None:
    history = _long_thread(6)
    kept = trim_history(history, 400)
    assert kept[:2] == history[:2] and kept[-1] == history[-1]
    assert len(kept) < len(history) and "follow-up 0" not in str(kept)
    assert sum(count_tokens(t.content) + 8 for t in kept) <= 400


def test_an_opening_larger_than_half_the_budget_gives_way_to_newer_turns() -> None:
    history = [Turn("user", "Who made it?"), Turn("assistant", " ".join(["chips"] * 300)), *_long_thread(1)[2:]]
    assert trim_history(history, 400) == [history[0], *history[2:]]  # the question alone still fits
    history[0] = Turn("user", " ".join(["chips"] * 300))
    assert trim_history(history, 400) == history[2:]


def test_the_rewrite_and_the_answer_both_see_the_question() -> None:
    history = _long_thread(8)
    rewrite = rewrite_messages("and which fund did he run?", history)[1]["content"]
    opening = "User: Who founded DeepSeek?\nAssistant: DeepSeek was founded by Liang Wenfeng [1]."
    assert rewrite.startswith(f"Conversation:\n{opening}\nUser: follow-up")
    prompt = build_prompt(
        "and which fund?",
        [],
        history,
        context_window=8000,
        max_answer_tokens=500,
        source_tokens=3000,
        history_tokens=500,
    )
    assert "Conversation so far:\nUser: Who founded DeepSeek?\nAssistant: DeepSeek was" in prompt.messages[1]["content"]
