"""What a member sees: a brief's primary sources in the sources embed and behind the Sources button, and a
thread opened on an answer that remembers the question (the request the model received, inspected)."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

from fakes.discord_server import Call
from harness import Harness, HarnessFactory
from helpers import CORPUS

BRIEF = CORPUS / "briefs" / "nvidia-sell-off-january-2025.md"
BRIEF_TITLE = "The Nvidia sell-off of January 27, 2025"
CNBC = "https://www.cnbc.com/2025/01/27/nvidia-sheds-almost-600-billion-in-market-cap-biggest-drop-ever.html"
NATURE = "https://www.nature.com/articles/d41586-025-03015-6"
FOUNDER = "Who founded DeepSeek?"
ANSWER = "DeepSeek was founded by Liang Wenfeng [1]."


def _is_final(call: Call) -> bool:
    return call.method == "PATCH" and bool((call.json or {}).get("embeds"))


def _cite_the_brief(request: dict[str, Any]) -> str:
    """A model citing the brief's passage, whatever its number in the prompt."""
    user = request["messages"][-1]["content"]
    n = re.search(rf'<source n="(\d+)" title="{re.escape(BRIEF_TITLE)}"', user)
    return f"Nvidia lost about $589 billion of market value that day [{n.group(1)}]." if n else "No brief."


async def test_a_briefs_primary_sources_are_linked_in_the_embed_and_the_sources_button(
    harness_factory: HarnessFactory, article_corpus: Path
) -> None:
    (article_corpus / "briefs").mkdir()
    shutil.copy(BRIEF, article_corpus / "briefs" / BRIEF.name)
    h = await harness_factory()
    report = await asyncio.to_thread(h.service.ingest_sync)  # the article was indexed ahead; the brief is new
    assert len(report.added) == 1
    h.model.responder = _cite_the_brief
    ix = await h.discord.slash_command("ask", {"question": "How much did Nvidia lose on January 27, 2025?"})
    await h.discord.wait_for_call(lambda c: _is_final(c) and ix.token in c.path, 20)
    message = h.discord.interaction_outcome(ix).message
    assert message is not None
    assert message["content"] == "Nvidia lost about $589 billion of market value that day [1]."
    [embed] = message["embeds"]
    head, primary, _quote = embed["description"].split("\n")
    assert head == f"**[1]** {BRIEF_TITLE} — curated brief · ragbot curators · 2026-11-28"
    assert primary.startswith(f"Primary sources: [CNBC, Jan 27, 2025](<{CNBC}>) *(link not confirmed)* · [DeepSeek")
    assert primary.endswith(" · and 2 more")  # six sources: four shown, the button shows all

    sources = [c["custom_id"] for row in message["components"] for c in row["components"]][2]
    shown = await h.discord.click_button(int(message["id"]), sources)
    outcome = await h.settled(shown)
    assert outcome.content is not None
    assert outcome.ephemeral and f"[CNBC, Jan 27, 2025](<{CNBC}>) *(link not confirmed)*" in outcome.content
    assert f"[Nature, Sept 17, 2025](<{NATURE}>)" in outcome.content and "and 2 more" not in outcome.content
    assert h.discord.mention_violations == []


async def _follow_up(h: Harness, thread_id: int, text: str, rewrite: str, reply: str) -> tuple[str, str]:
    """Ask in the thread; (the rewrite request's conversation, the answer request's prompt)."""
    h.model.enqueue_reply(rewrite)
    h.model.enqueue_reply(reply)
    mark = h.discord.mark()
    await h.discord.send_message(thread_id, text)
    await h.discord.wait_for_call(lambda c: _is_final(c) and f"/channels/{thread_id}/" in c.path, 15, since=mark)
    rewrite_request, answer_request = (r.json or {} for r in h.model.chat_requests[-2:])
    return rewrite_request["messages"][1]["content"], answer_request["messages"][1]["content"]


async def test_a_thread_on_an_answer_remembers_the_question_however_long_it_grows(
    harness_factory: HarnessFactory,
) -> None:
    h = await harness_factory(history_messages=4)
    h.model.enqueue_reply(ANSWER)
    await h.discord.send_message(h.discord.channel_id, FOUNDER, mentions_bot=True)
    thread_call = await h.discord.wait_for_call(lambda c: c.method == "POST" and c.path.endswith("/threads"), 10)
    thread_id = int(thread_call.response["id"])

    opening = f"User: {FOUNDER}\nAssistant: {ANSWER}"
    conversation, prompt = await _follow_up(
        h, thread_id, "and which hedge fund did he run?", "Which hedge fund did Liang Wenfeng run?", "High-Flyer [1]."
    )
    assert conversation == f"Conversation:\n{opening}\n\nLast message: and which hedge fund did he run?"
    assert f"Conversation so far:\n{opening}\n\nQuestion: and which hedge fund did he run?" in prompt

    await _follow_up(h, thread_id, "when was it founded?", "When was High-Flyer founded?", "In 2015 [1].")
    conversation, prompt = await _follow_up(
        h, thread_id, "and where is it based?", "Where is High-Flyer based?", "In Hangzhou [1]."
    )
    # Five earlier messages, four allowed: the newest exchange is kept, and the question the thread is about.
    assert conversation.startswith(f"Conversation:\n{opening}\nUser: when was it founded?\nAssistant: In 2015 [1].")
    assert "which hedge fund" not in conversation
    assert f"Conversation so far:\n{opening}\nUser: when was it founded?" in prompt
