"""Running the bot as a service: per-server daily token budgets, and log lines tied to one question."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Harness, HarnessFactory

from rag.budget import BUDGET_NOTE
from rag.observe import AnswerIdFilter
from ragbot.logs import JsonFormatter

FOUNDER = "Who founded DeepSeek?"
ANSWER = "DeepSeek was founded by Liang Wenfeng [1]."
USAGE = {"prompt_tokens": 900, "completion_tokens": 200, "total_tokens": 1100}


async def _ask(h: Harness, question: str, channel_id: int | None = None) -> Any:
    ix = await h.discord.slash_command("ask", {"question": question}, channel_id=channel_id)
    await h.discord.wait_for_call(
        lambda c: c.method == "PATCH" and ix.token in c.path and bool((c.json or {}).get("components")), 15
    )
    return h.discord.interaction_outcome(ix)


def _second_guild(found: dict[str, int]) -> Any:
    def setup(discord: Any) -> dict[str, Any]:
        found["guild"] = discord.add_guild("Other Guild")
        found["channel"] = discord.add_text_channel(found["guild"], "general")
        discord.add_member(found["guild"], discord.user_id)
        return {"guild_ids": [discord.guild_id, found["guild"]]}

    return setup


async def test_a_server_past_its_budget_gets_quoted_answers_while_another_gets_the_model(
    harness_factory: HarnessFactory,
) -> None:
    other: dict[str, int] = {}
    h = await harness_factory(setup=_second_guild(other), llm_options={"daily_tokens_per_guild": 1000})
    h.model.enqueue_reply(ANSWER, usage=USAGE)
    first = await _ask(h, FOUNDER)
    assert first.content.startswith(ANSWER) and BUDGET_NOTE not in first.content

    over = await _ask(h, FOUNDER)  # 1,100 tokens spent today of 1,000
    assert len(h.model.chat_requests) == 1  # the model was not asked
    assert f"*{BUDGET_NOTE}*" in over.content and "Liang Wenfeng" in over.content
    assert "no language model is configured" not in over.content  # the note says why, not the generic label

    h.model.enqueue_reply(ANSWER, usage=USAGE)
    elsewhere = await _ask(h, FOUNDER, channel_id=other["channel"])
    assert len(h.model.chat_requests) == 2 and elsewhere.content.startswith(ANSWER)

    mod = h.add_moderator()
    stats = await h.settled(await h.discord.slash_command("stats", {}, user_id=mod))
    assert stats.content is not None
    assert "**Model tokens today:** 1,100 of 1,000 tokens (110%) — used up" in stats.content


async def test_without_a_budget_stats_show_the_spend_alone(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    h.model.enqueue_reply(ANSWER, usage=USAGE)
    await _ask(h, FOUNDER)
    stats = await h.settled(await h.discord.slash_command("stats", {}, user_id=h.add_moderator()))
    assert stats.content is not None and "**Model tokens today:** 1,100 tokens (no daily budget set)" in stats.content


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What `RAGBOT_LOG_FORMAT=json` writes: the answer-id filter and the JSON formatter on a root handler."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(AnswerIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def test_log_lines_of_one_question_share_its_answer_id(
    harness_factory: HarnessFactory, json_lines: io.StringIO
) -> None:
    h = await harness_factory()
    h.model.enqueue_error(500, message="overloaded")  # a retry: a warning line while answering
    h.model.enqueue_reply(ANSWER, usage=USAGE)
    outcome = await _ask(h, FOUNDER)
    buttons = [c["custom_id"] for row in outcome.message["components"] for c in row["components"]]
    answer_id = buttons[0].rsplit(":", 1)[1]  # the id the vote buttons and the answer log carry

    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    tied = [line for line in lines if line.get("answer_id") == answer_id]
    assert any("retrying in" in line["message"] for line in tied)  # rag.retry, deep in the model call
    assert any("1100" in line["message"] or "900 prompt" in line["message"] for line in tied)  # the usage line
    assert {line["answer_id"] for line in lines if "answer_id" in line} == {answer_id}


async def test_a_question_asked_as_the_last_answer_appears_is_counted_against_its_tokens(
    harness_factory: HarnessFactory, tmp_path: Path
) -> None:
    """The answer log, which the budget counts, is written while the answer is shown. Here that write is held up
    (another connection holds SQLite's write lock for a second): the next question waits for it instead of finding
    the budget unspent."""
    h = await harness_factory(llm_options={"daily_tokens_per_guild": 1000})
    [database] = tmp_path.glob("ragbot-*.sqlite3")
    blocker = sqlite3.connect(database, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # the answer log's next write waits for this
        h.model.enqueue_reply(ANSWER, usage=USAGE)
        first = await _ask(h, FOUNDER)
        assert first.content.startswith(ANSWER)
        asyncio.get_running_loop().call_later(1.0, blocker.execute, "COMMIT")
        over = await _ask(h, FOUNDER)  # asked at once: the first answer's row is still being written
    finally:
        blocker.close()
    assert len(h.model.chat_requests) == 1  # the model was not asked again
    assert f"*{BUDGET_NOTE}*" in over.content
