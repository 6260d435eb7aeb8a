"""The bot against hostile text: broken Unicode and control characters from the model and from users."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from fakes.discord_server import Call
from harness import HarnessFactory


def _is_final(call: Call) -> bool:
    return call.method == "PATCH" and bool((call.json or {}).get("embeds"))


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> bool:
    """The answer is logged after it is shown: give the log a moment."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)
    return True


async def test_a_model_answer_with_broken_unicode_is_shown_and_logged(harness_factory: HarnessFactory) -> None:
    """A lone surrogate in the model's text used to fail the answer log before delivery: the asker saw
    "Something went wrong" and the answer was lost."""
    h = await harness_factory(threads=False)
    h.model.enqueue_reply("DeepSeek was founded by Liang\ud800 Wenfeng\x00 [1].", chunk_size=6)
    await h.discord.send_message(h.discord.channel_id, "Who founded\x1b[2J DeepSeek?\x07", mentions_bot=True)
    await h.discord.wait_for_call(_is_final, 10)
    [reply] = h.discord.messages_in(h.discord.channel_id)
    assert reply["content"] == "DeepSeek was founded by Liang\ufffd Wenfeng [1]."
    assert reply["embeds"][0]["title"] == "Sources"
    since = datetime.now(UTC) - timedelta(hours=1)

    async def logged() -> bool:
        return bool((await h.db.stats(None, since)).questions == 1)

    assert await _eventually(logged)


async def test_an_answer_is_shown_even_when_it_cannot_be_logged(
    harness_factory: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Show first, log after: the answer log failing (here its table is gone) costs the asker nothing."""
    h = await harness_factory(threads=False)
    with sqlite3.connect(h.db.name) as storage:
        storage.execute("ALTER TABLE answer_log RENAME TO answer_log_elsewhere")
    h.model.enqueue_reply("DeepSeek was founded by Liang Wenfeng [1].")
    await h.discord.send_message(h.discord.channel_id, "Who founded DeepSeek?", mentions_bot=True)
    await h.discord.wait_for_call(_is_final, 10)
    [reply] = h.discord.messages_in(h.discord.channel_id)
    assert reply["content"] == "DeepSeek was founded by Liang Wenfeng [1]."

    async def reported() -> bool:
        return any("was shown but could not be recorded" in r.getMessage() for r in caplog.records)

    assert await _eventually(reported)


async def test_a_long_chain_of_textless_replies_costs_a_bounded_number_of_requests(
    harness_factory: HarnessFactory,
) -> None:
    """150 image-only replies above a follow-up: the history walk stops after `history_messages` messages
    fetched, not after that many messages with text (it used to make 76 REST calls for one question)."""
    h = await harness_factory(threads=False, history_messages=10)
    picture = [{"title": "a picture", "image": {"url": "https://example.org/p.png"}}]
    parent = await h.discord.send_message(h.discord.channel_id, "Look at these.")
    for _ in range(150):
        parent = await h.discord.send_message(h.discord.channel_id, "", reply_to=int(parent["id"]), embeds=picture)
    h.model.enqueue_reply("DeepSeek was founded by Liang Wenfeng [1].")
    question = await h.discord.send_message(
        h.discord.channel_id, "Who founded DeepSeek?", mentions_bot=True, reply_to=int(parent["id"])
    )
    await h.discord.wait_for_call(_is_final, 10)
    answer = next(m for m in h.discord.messages_in(h.discord.channel_id) if m["id"] != question["id"])
    h.model.enqueue_reply("Who funds DeepSeek?")  # the follow-up rewrite
    h.model.enqueue_reply("Its founder's hedge fund High-Flyer [1].")
    mark = h.discord.mark()
    await h.discord.send_message(h.discord.channel_id, "and who funds it?", reply_to=int(answer["id"]))
    await h.discord.wait_for_call(_is_final, 20, since=mark)
    fetches = [c for c in h.discord.calls[mark:] if c.method == "GET" and "/messages/" in c.path]
    assert len(fetches) <= 10
    assert h.discord.messages_in(h.discord.channel_id)[-1]["content"].startswith("Its founder's hedge fund")
