"""The bot end to end: what Discord receives when people ask."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from fakes.discord_server import Call, SentInteraction
from harness import Harness, HarnessFactory

from bot.delivery import BACKEND_DOWN

FOUNDER = "Who founded DeepSeek?"
ANSWER = "DeepSeek was founded by Liang Wenfeng [1]."


def _bot_replies(h: Harness, channel_id: int) -> list[dict[str, Any]]:
    return h.discord.messages_in(channel_id)


def _is_final(call: Call) -> bool:
    return call.method == "PATCH" and bool((call.json or {}).get("embeds"))


async def test_slash_ask_defers_then_edits_in_a_cited_answer(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    h.model.enqueue_reply(ANSWER)
    ix = await h.discord.slash_command("ask", {"question": FOUNDER})
    await h.discord.wait_for_call(lambda c: c.method == "PATCH" and "@original" in c.path and _is_final(c), 10)
    callback = h.discord.interaction_responses(ix)[0]
    assert callback.json["type"] == 5  # deferred at once: "ragbot is thinking…"
    outcome = h.discord.interaction_outcome(ix)
    assert outcome.content == ANSWER and not outcome.ephemeral
    assert outcome.message is not None
    [embed] = outcome.message["embeds"]
    assert embed["title"] == "Sources"
    assert (
        "**[1]** [Will China’s New AI Model DeepSeek Threaten U.S. Dominance?](<https://tobiasholm.com/"
        in (embed["description"])
    )
    buttons = [c for row in outcome.message["components"] for c in row["components"]]
    assert [b.get("emoji", {}).get("name") for b in buttons][:2] == ["👍", "👎"] and buttons[2]["label"] == "Sources"
    assert h.discord.mention_violations == []


async def test_mention_opens_a_thread_and_follow_ups_need_no_mention(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    h.model.enqueue_reply(ANSWER)
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)
    thread_call = await h.discord.wait_for_call(lambda c: c.method == "POST" and c.path.endswith("/threads"), 10)
    assert thread_call.json["name"] == FOUNDER
    thread_id = int(thread_call.response["id"])
    [reply] = _bot_replies(h, h.discord.channel_id)
    assert reply["content"] == ANSWER and reply["embeds"][0]["title"] == "Sources"

    h.model.enqueue_reply("What did Liang Wenfeng do before founding DeepSeek?")  # the follow-up rewrite
    h.model.enqueue_reply("He worked in quantitative trading [1].")
    mark = h.discord.mark()
    await h.discord.send_message(thread_id, "what did he do before that?")
    await h.discord.wait_for_call(lambda c: _is_final(c) and f"/channels/{thread_id}/" in c.path, 10, since=mark)
    [answer] = _bot_replies(h, thread_id)
    assert answer["content"] == "He worked in quantitative trading [1]."
    final_request = h.model.chat_requests[-1].json
    assert final_request is not None
    final_prompt = final_request["messages"][1]["content"]
    assert "Conversation so far" in final_prompt and "User: Who founded DeepSeek?" in final_prompt
    assert "Assistant: DeepSeek was founded by Liang Wenfeng [1]." in final_prompt


async def test_other_mentions_in_a_question_are_not_searched(harness_factory: HarnessFactory) -> None:
    """A mention token's long id is not a fact to look up: searched, it would make the core refuse."""
    h = await harness_factory(threads=False)
    h.model.enqueue_reply(ANSWER)
    other = 381_870_553_235_193_857
    await h.discord.send_message(h.discord.channel_id, f"<@{other}> wants to know: {FOUNDER}", mentions_bot=True)
    await h.discord.wait_for_call(lambda c: _is_final(c) and f"/channels/{h.discord.channel_id}/" in c.path, 30)
    [reply] = _bot_replies(h, h.discord.channel_id)
    assert reply["content"] == ANSWER
    request = h.model.chat_requests[-1].json
    assert request is not None
    prompt = request["messages"][1]["content"]
    assert "wants to know: Who founded DeepSeek?" in prompt and str(other) not in prompt


async def test_reply_to_an_answer_is_a_follow_up(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(threads=False)
    h.model.enqueue_reply(ANSWER)
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)
    await h.discord.wait_for_call(_is_final, 10)
    [first] = _bot_replies(h, h.discord.channel_id)
    h.model.enqueue_reply("Where is DeepSeek's founder from? Liang Wenfeng Chengdu")
    h.model.enqueue_reply("He started out in Chengdu [1].")
    mark = h.discord.mark()
    await h.discord.send_message(
        h.discord.channel_id, "where did he start out?", reply_to=int(first["id"]), ping_reply=False
    )
    await h.discord.wait_for_call(_is_final, 10, since=mark)
    second = _bot_replies(h, h.discord.channel_id)[-1]
    assert second["content"] == "He started out in Chengdu [1]."
    request = h.model.chat_requests[-1].json
    assert request is not None
    assert "Assistant: DeepSeek was founded by Liang Wenfeng [1]." in request["messages"][1]["content"]


async def test_a_6000_character_answer_is_split_and_sourced_once(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(threads=False)
    sentence = "Liang Wenfeng founded DeepSeek after years of quantitative trading work in China [1]."
    long_answer = "\n\n".join(" ".join([sentence] * 10) for _ in range(7))
    assert len(long_answer) > 6000
    h.model.enqueue_reply(long_answer, chunk_size=400)
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)
    await h.discord.wait_for_call(lambda c: c.method == "POST" and bool((c.json or {}).get("embeds")), 15)
    messages = _bot_replies(h, h.discord.channel_id)
    assert len(messages) >= 4 and all(len(m["content"]) <= 2000 for m in messages)
    assert " ".join(" ".join(m["content"] for m in messages).split()) == " ".join(long_answer.split())
    assert [bool(m["embeds"]) for m in messages] == [False] * (len(messages) - 1) + [True]
    assert all(m["content"].rstrip().endswith("[1].") for m in messages)


async def test_everyone_in_an_answer_pings_nobody(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    h.model.enqueue_reply("@everyone @here <@&123456> DeepSeek was founded by Liang Wenfeng [1].")
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)
    await h.discord.wait_for_call(_is_final, 10)
    [reply] = _bot_replies(h, h.discord.channel_id)
    assert reply["content"].startswith("@everyone @here <@&123456>")
    writes = [c for c in h.discord.calls if c.method in ("POST", "PATCH") and "/messages" in c.path]
    assert writes and all(c.json["allowed_mentions"]["parse"] == [] for c in writes if "content" in (c.json or {}))
    assert h.discord.mention_violations == [] and not reply["mention_everyone"]


async def test_cooldown_turns_the_third_question_away(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(cooldown_questions=2, cooldown_seconds=600)
    for _ in range(2):
        h.model.enqueue_reply(ANSWER)
        ix = await h.discord.slash_command("ask", {"question": FOUNDER})

        def answered(c: Call, ix: SentInteraction = ix) -> bool:
            return _is_final(c) and ix.token in c.path

        await h.discord.wait_for_call(answered, 10)
    ix = await h.discord.slash_command("ask", {"question": FOUNDER})
    await h.discord.wait_for_call(lambda c: c.method == "POST" and f"/interactions/{ix.id}/" in c.path, 10)
    outcome = h.discord.interaction_outcome(ix)
    assert outcome.content is not None
    assert outcome.ephemeral and re.match(r"You're asking quickly: please wait \d+ s", outcome.content)
    assert len(h.model.chat_requests) == 2


async def test_backend_failure_tells_the_asker_privately(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    h.model.enqueue_error(402, message="Insufficient Balance")
    ix = await h.discord.slash_command("ask", {"question": FOUNDER})
    await h.discord.wait_for_call(lambda c: c.method == "POST" and ix.token in c.path and "webhooks" in c.path, 10)
    outcome = h.discord.interaction_outcome(ix)
    [notice] = outcome.followups
    assert notice["content"] == f"⚠️ {BACKEND_DOWN}" and int(notice["flags"]) & 64
    assert "Insufficient" not in str(h.discord.messages_in(h.discord.channel_id))

    h.model.enqueue_error(503, message="down")
    h.model.enqueue_error(503, message="down")
    mark = h.discord.mark()
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)
    await h.discord.wait_for_call(lambda c: c.method == "PATCH" and BACKEND_DOWN in str(c.json), 15, since=mark)
    assert "Traceback" not in str(h.discord.calls)


async def test_drafts_are_edited_at_most_once_per_interval(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(edit_interval=0.5, threads=False)
    h.model.enqueue_reply(ANSWER * 6, chunk_size=6, chunk_delay=0.04)  # ~1.8 s of streaming
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)
    await h.discord.wait_for_call(_is_final, 20)
    edits = [c for c in h.discord.calls if c.method == "PATCH" and "/messages/" in c.path]
    times = [c.at for c in edits]
    assert len(edits) >= 3  # the draft did update while streaming
    assert all(b - a >= 0.45 for a, b in itertools.pairwise(times)), times


async def test_a_discord_429_is_retried(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(threads=False)
    h.discord.rate_limit_next("POST", f"/channels/{h.discord.channel_id}/messages", retry_after=0.2)
    h.model.enqueue_reply(ANSWER)
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)
    await h.discord.wait_for_call(_is_final, 10)
    statuses = [c.status for c in h.discord.calls_to("POST", f"/channels/{h.discord.channel_id}/messages")]
    assert statuses[:2] == [429, 200]
    assert _bot_replies(h, h.discord.channel_id)[0]["content"] == ANSWER


async def test_buttons_keep_working_after_a_restart(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    h.model.enqueue_reply(ANSWER)
    ix = await h.discord.slash_command("ask", {"question": FOUNDER})
    await h.discord.wait_for_call(lambda c: _is_final(c) and ix.token in c.path, 10)
    message = h.discord.interaction_outcome(ix).message
    assert message is not None
    up, _down, sources = [c["custom_id"] for row in message["components"] for c in row["components"]]
    await h.stop()
    await h.start()  # a new process: same data dir, new client

    vote = await h.discord.click_button(int(message["id"]), up)
    await h.discord.wait_for_call(lambda c: f"/interactions/{vote.id}/" in c.path, 10)
    thanks = h.discord.interaction_outcome(vote).content
    assert thanks is not None and thanks.startswith("Thanks! Your 👍")
    assert await h.db.votes(up.rsplit(":", 1)[1]) == (1, 0)
    shown = await h.discord.click_button(int(message["id"]), sources)
    await h.discord.wait_for_call(lambda c: f"/interactions/{shown.id}/" in c.path, 10)
    outcome = h.discord.interaction_outcome(shown)
    assert outcome.content is not None
    assert outcome.ephemeral and "> DeepSeek was founded by Liang Wenfeng" in outcome.content


async def test_ignored_messages(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(allowed_channels=[1])
    other_bot = h.discord.add_user("otherbot", bot=True)
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)  # not an allowed channel
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True, author_id=other_bot)
    await h.discord.send_message(h.discord.channel_id, "no mention here")
    h.model.enqueue_reply(ANSWER)
    ix = await h.discord.slash_command("ask", {"question": FOUNDER})  # /ask works anywhere it is offered
    await h.discord.wait_for_call(lambda c: _is_final(c) and ix.token in c.path, 10)
    assert (
        len(h.model.chat_requests) == 1
        and h.discord.calls_to("POST", f"/channels/{h.discord.channel_id}/messages") == []
    )


@pytest.mark.parametrize("grace", [30.0, 0.0])  # the grace is an upper bound: a loaded CI machine needs room
async def test_shutdown_finishes_or_marks_answers_in_progress(harness_factory: HarnessFactory, grace: float) -> None:
    h = await harness_factory(shutdown_grace=grace, threads=False)
    h.model.enqueue_reply(ANSWER, first_token_delay=1.0)
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)
    await h.discord.wait_for_call(lambda c: c.method == "POST" and "/messages" in c.path, 10)  # the placeholder
    await h.stop()
    [reply] = _bot_replies(h, h.discord.channel_id)
    if grace:
        assert reply["content"] == ANSWER
    else:
        assert "cut short" in reply["content"]


async def test_an_expired_interaction_token_falls_back_to_the_channel(
    harness_factory: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.delivery

    h = await harness_factory()
    monkeypatch.setattr(bot.delivery, "_TOKEN_LIFETIME", 0.2)  # Discord's is 15 minutes
    h.model.enqueue_reply(ANSWER, first_token_delay=0.5)
    ix = await h.discord.slash_command("ask", {"question": FOUNDER})
    await h.discord.wait_for_call(lambda c: _is_final(c) and f"/channels/{h.discord.channel_id}/" in c.path, 10)
    [message] = [m for m in _bot_replies(h, h.discord.channel_id) if m["content"] == ANSWER]
    assert message["embeds"][0]["title"] == "Sources"
    assert not [c for c in h.discord.interaction_responses(ix) if c.method == "PATCH" and _is_final(c)]


async def test_a_reasoning_model_shows_thinking_then_the_answer(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(threads=False)
    h.model.enqueue_reply(ANSWER, reasoning="SECRET weighing of the sources " * 4, chunk_size=8, chunk_delay=0.05)
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)
    await h.discord.wait_for_call(_is_final, 15)
    edits = [c.json.get("content", "") for c in h.discord.calls if c.method == "PATCH" and "/messages/" in c.path]
    assert any("thinking…" in e for e in edits[:-1]) and edits[-1] == ANSWER
    assert all("SECRET" not in e for e in edits)
