"""Insight and the corpus end to end: /stats, /sources list, /reindex."""

from __future__ import annotations

from pathlib import Path

from fakes.discord_server import InteractionOutcome
from harness import Harness, HarnessFactory
from helpers import ARTICLE_ID

from bot.permissions import NOT_ADMINISTRATOR, NOT_MODERATOR
from bot.rendering import REFUSAL_LABEL

FOUNDER = "Who founded DeepSeek?"
OFF_TOPIC = "What's a good recipe for sourdough bread?"
ANSWER = "DeepSeek was founded by Liang Wenfeng [1]."
TITLE = "Will China’s New AI Model DeepSeek Threaten U.S. Dominance?"


async def _ask(h: Harness, question: str) -> InteractionOutcome:
    ix = await h.discord.slash_command("ask", {"question": question})
    # Every finished answer, refusals included, carries the vote buttons; drafts never do.
    await h.discord.wait_for_call(
        lambda c: c.method == "PATCH" and ix.token in c.path and bool((c.json or {}).get("components")), 15
    )
    return h.discord.interaction_outcome(ix)


async def test_stats_count_refusals_and_votes(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    h.model.enqueue_reply(ANSWER)
    answered = (await _ask(h, FOUNDER)).message
    assert answered is not None
    refused = await _ask(h, OFF_TOPIC)
    assert refused.content is not None and refused.content.startswith(REFUSAL_LABEL) and len(h.model.chat_requests) == 1
    buttons = [c["custom_id"] for row in answered["components"] for c in row["components"]]
    down = next(b for b in buttons if ":down:" in b)
    await h.settled(await h.discord.click_button(int(answered["id"]), down))

    stats = await h.settled(await h.discord.slash_command("stats", {}, user_id=mod))
    assert stats.content is not None
    assert stats.ephemeral and stats.content.startswith("📊 **The last 7 days**")
    assert "**Questions:** 2" in stats.content
    assert "(the sources don't cover them): 1 · 50%" in stats.content
    assert "**Votes:** 👍 0 · 👎 1 · 0% 👍" in stats.content
    assert "**Latency:** median " in stats.content and "95th percentile " in stats.content
    assert f"**Most refused questions**\n1. {OFF_TOPIC} (×1)" in stats.content
    assert f"**Most 👎 questions**\n1. {FOUNDER} (👎 1)" in stats.content

    member = await h.settled(await h.discord.slash_command("stats", {"days": 30}))
    assert member.ephemeral and member.content == NOT_MODERATOR


async def test_sources_lists_the_article(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    [doc] = h.service.index.catalog.documents()
    outcome = await h.settled(await h.discord.slash_command("sources", {"list": {}}))  # any member may look
    assert outcome.content is not None
    assert outcome.ephemeral and outcome.content.startswith("📚 **Indexed sources** — 1 in all · page 1/1")
    assert f"[{TITLE}](<{doc.source.url}>) — {doc.source.published} · {doc.chunk_count} chunks" in outcome.content
    assert outcome.components == []  # one page: no buttons


async def test_reindex_is_for_administrators_and_reports_failures(
    harness_factory: HarnessFactory, article_corpus: Path
) -> None:
    h = await harness_factory()
    for user in (h.discord.user_id, h.add_moderator()):
        refused = await h.settled(await h.discord.slash_command("reindex", {}, user_id=user))
        assert refused.ephemeral and refused.content == NOT_ADMINISTRATOR

    admin = h.add_administrator()
    done = await h.settled(await h.discord.slash_command("reindex", {}, user_id=admin), timeout=60)
    assert done.ephemeral and done.content == "🔄 **Reindexed:** 0 added, 0 updated, 0 removed, 1 unchanged, 0 failed"
    assert h.discord.interaction_responses(done.interaction_id)[0].json["type"] == 5  # deferred first

    (article_corpus / "broken.pdf").write_bytes(b"%PDF-1.7 truncated garbage")
    again = await h.settled(await h.discord.slash_command("reindex", {}, user_id=admin), timeout=60)
    assert again.content is not None
    assert "0 added, 0 updated, 0 removed, 1 unchanged, 1 failed" in again.content
    assert "**Files that could not be indexed:**\n• `" in again.content and "broken.pdf" in again.content
    assert [d.source.id for d in h.service.index.catalog.documents()] == [ARTICLE_ID]
