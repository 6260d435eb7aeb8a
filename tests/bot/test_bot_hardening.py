"""The bot against hostile text: broken Unicode and control characters from the model and from users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fakes.discord_server import Call


def _is_final(call: Call) -> bool:
    return call.method == "PATCH" and bool((call.json or {}).get("embeds"))


async def test_a_model_answer_with_broken_unicode_is_shown_and_logged(harness_factory) -> None:  # type: ignore[no-untyped-def]
    """A lone surrogate in the model's text used to fail the answer log before delivery: the asker saw
    "Something went wrong" and the answer was lost."""
    h = await harness_factory(threads=False)
    h.model.enqueue_reply("DeepSeek was founded by Liang\ud800 Wenfeng\x00 [1].", chunk_size=6)
    await h.discord.send_message(h.discord.channel_id, "Who founded\x1b[2J DeepSeek?\x07", mentions_bot=True)
    await h.discord.wait_for_call(_is_final, 10)
    [reply] = h.discord.messages_in(h.discord.channel_id)
    assert reply["content"] == "DeepSeek was founded by Liang\ufffd Wenfeng [1]."
    assert reply["embeds"][0]["title"] == "Sources"
    stats = await h.db.stats(None, datetime.now(UTC) - timedelta(hours=1))
    assert stats.questions == 1
