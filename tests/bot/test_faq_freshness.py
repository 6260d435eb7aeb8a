"""FAQ entries that stay fresh, end to end through the real bot and the loopback Discord: uses counted when the
FAQ answers, a review-by date set in the forms, /faq list flags (past review, changed source, removed source),
and /stats with its chart attached."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from fakes.discord_message_payloads import walk_components
from fakes.discord_server import InteractionOutcome
from harness import Harness, HarnessFactory
from helpers import ARTICLE_ID

from bot.admin_rendering import FLAG_KEY
from bot.rendering import FAQ_LABEL
from curation.faq import FaqMatcher
from curation.review import ReviewQueue, Sighting

FOUNDER = "Who founded DeepSeek?"
PARAPHRASE = "who set up deepseek?"
H20 = "What are the H20 export notes about?"
TITLE = "Will China’s New AI Model DeepSeek Threaten U.S. Dominance?"
NOTES_TITLE = "Nvidia H20 export notes"
NOTES = f"""---
title: "{NOTES_TITLE}"
url: https://example.org/h20-notes
publisher: Example
published: "2025-02-01"
---
# The H20

Nvidia designed the H20 accelerator for the Chinese market to stay under the United States export thresholds.
"""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _inputs(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["custom_id"]: c for c in walk_components(modal["components"]) if c.get("type") == 4}


async def _form(
    h: Harness, command: str, options: dict[str, Any] | None, user: int, **values: str
) -> tuple[dict[str, dict[str, Any]], str]:
    """/faq add or edit: the form's text inputs as shown, and the reply once it is submitted with `values`."""
    ix = await h.discord.slash_command("faq", {command: options or {}}, user_id=user)
    shown = await h.settled(ix)
    assert shown.modal is not None, shown.content
    submit = await h.discord.submit_modal(values=values, from_interaction=ix, user_id=user)
    done = await h.settled(submit)
    assert done.ephemeral and done.content is not None
    return _inputs(shown.modal), done.content


async def _list(h: Harness, user: int) -> str:
    outcome = await h.settled(await h.discord.slash_command("faq", {"list": {}}, user_id=user))
    assert outcome.content is not None
    return outcome.content


async def _ask(h: Harness, question: str) -> InteractionOutcome:
    ix = await h.discord.slash_command("ask", {"question": question})
    await h.discord.wait_for_call(
        lambda c: c.method == "PATCH" and ix.token in c.path and bool((c.json or {}).get("components")), 15
    )
    return h.discord.interaction_outcome(ix)


async def _reindex(h: Harness) -> None:
    admin = h.add_administrator()
    done = await h.settled(await h.discord.slash_command("reindex", {}, user_id=admin), timeout=90)
    assert done.content is not None and done.content.startswith("🔄 **Reindexed:**"), done.content


def _first_chunk(h: Harness, source_id: str) -> str:
    chunks = h.service.index.catalog.get_chunks(h.service.index.catalog.chunk_ids_of(source_id))
    return min(chunks.values(), key=lambda c: c.start).chunk_id


def _entry_lines(listing: str, entry_id: int) -> str:
    """The line of one entry and its flag line, if it has one."""
    lines = listing.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"**#{entry_id}** "))
    flagged = start + 1 < len(lines) and lines[start + 1].startswith("  ")
    return "\n".join(lines[start : start + 2 if flagged else start + 1])


async def test_uses_review_dates_and_changed_or_removed_sources_are_shown(
    harness_factory: HarnessFactory, article_corpus: Path
) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    (article_corpus / "h20-notes.md").write_text(NOTES, encoding="utf-8")
    await _reindex(h)
    article_chunk, notes_chunk = _first_chunk(h, ARTICLE_ID), _first_chunk(h, "h20-notes")
    _, saved = await _form(
        h,
        "add",
        None,
        mod,
        question=FOUNDER,
        answer="Liang Wenfeng [1].",
        sources=article_chunk,
        review_by="2020-01-01",
    )
    assert "Saved FAQ entry **#1**" in saved
    _, saved = await _form(h, "add", None, mod, question=H20, answer="A chip for China [1].", sources=notes_chunk)
    assert "Saved FAQ entry **#2**" in saved

    listing = await _list(h, mod)
    assert _entry_lines(listing, 1) == f"**#1** {FOUNDER} · *1 source* · never used\n  ⏰ review was due 2020-01-01"
    assert _entry_lines(listing, 2) == f"**#2** {H20} · *1 source* · never used"

    faq = await _ask(h, PARAPHRASE)
    assert faq.content == f"{FAQ_LABEL}\n\nLiang Wenfeng [1]."
    await h.db.flush()  # the use is written in the background, after the answer went out
    assert "**#1** Who founded DeepSeek? · *1 source* · 1 use, last <t:" in await _list(h, mod)

    # The article gains a paragraph (the cited passage stays), the notes are deleted; then a reindex.
    with (article_corpus / f"{ARTICLE_ID}.md").open("a", encoding="utf-8") as article:
        article.write("\n\n## Update\n\nA later paragraph added by the editors after the entry was written.\n")
    (article_corpus / "h20-notes.md").unlink()
    await _reindex(h)
    listing = await _list(h, mod)
    assert _entry_lines(listing, 1).endswith(f"⏰ review was due 2020-01-01 · ✏️ source changed: {TITLE}")
    assert _entry_lines(listing, 2).endswith(f"🗑️ source removed: {NOTES_TITLE}")
    assert FLAG_KEY in listing

    # Saving the entry again is the moderator's check: the changed source and the cleared date flag nothing.
    shown, edited = await _form(h, "edit", {"id": 1}, mod, review_by="")
    assert shown["review_by"]["value"] == "2020-01-01"
    assert "Updated FAQ entry **#1**" in edited
    listing = await _list(h, mod)
    assert _entry_lines(listing, 1).startswith("**#1** Who founded DeepSeek? · *1 source* · 1 use, last <t:")
    assert "\n" not in _entry_lines(listing, 1)
    assert _entry_lines(listing, 2).endswith(f"🗑️ source removed: {NOTES_TITLE}")  # still cited, still gone
    assert h.discord.mention_violations == []


async def test_a_review_date_is_set_shown_and_a_bad_one_is_refused(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    entry = await h.db.add_faq(h.discord.guild_id, FOUNDER, "Liang Wenfeng.", author_id=mod)

    shown, edited = await _form(h, "edit", {"id": entry.id}, mod, review_by=" 2027-03-31 ")
    assert not shown["review_by"].get("value")  # none yet
    assert f"Updated FAQ entry **#{entry.id}**" in edited
    stored = await h.db.get_faq(entry.id, h.discord.guild_id)
    assert stored is not None and stored.review_by is not None and stored.review_by.isoformat() == "2027-03-31"
    show = await h.settled(await h.discord.slash_command("faq", {"show": {"id": entry.id}}, user_id=mod))
    assert "never used · review by 2027-03-31" in (show.content or "")

    for typed in ("31/03/2027", "2027-02-30", "next spring"):
        shown, refused = await _form(h, "edit", {"id": entry.id}, mod, answer="Changed.", review_by=typed)
        assert shown["review_by"]["value"] == "2027-03-31"  # the form shows the date it has
        assert refused == (
            f"⚠️ The review date '{typed}' is not a date: write it as YYYY-MM-DD (for example 2027-03-31),"
            " or leave it empty."
        )
    assert await h.db.get_faq(entry.id, h.discord.guild_id) == stored  # nothing saved
    assert "⏰" not in await _list(h, mod)  # a date to come flags nothing


async def _answers_logged(h: Harness, count: int) -> None:
    """The answer log is written just after an answer is delivered: wait until it holds `count` answers."""
    since = datetime.now(UTC) - timedelta(hours=1)
    async with asyncio.timeout(10):
        while (await h.db.stats(h.discord.guild_id, since)).questions < count:
            await asyncio.sleep(0.05)


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def _stats_chart(h: Harness, user: int) -> tuple[str, bytes]:
    """/stats as the moderator sees it: the text, and the bytes of the picture attached (from the fake's CDN)."""
    outcome = await h.settled(await h.discord.slash_command("stats", {}, user_id=user), timeout=30)
    assert outcome.message is not None and outcome.ephemeral and outcome.content is not None
    # Deferred first: drawing may take longer than Discord waits for a first response.
    assert h.discord.interaction_responses(outcome.interaction_id)[0].json["type"] == 5
    [attachment] = outcome.message["attachments"]
    assert (attachment["filename"], attachment["content_type"]) == ("stats.png", "image/png")
    async with aiohttp.ClientSession() as session, session.get(attachment["url"]) as response:
        png = await response.read()
    assert len(png) == attachment["size"]
    return outcome.content, png


async def test_stats_attach_a_chart_and_count_faq_hits(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    empty, png = await _stats_chart(h, mod)  # no questions yet: still a picture, saying so
    assert "**Questions:** 0" in empty
    assert _png_size(png) == (800, 500)

    await h.db.add_faq(h.discord.guild_id, FOUNDER, "Liang Wenfeng.", author_id=mod)
    h.model.enqueue_reply("DeepSeek is a Chinese AI lab [1].")
    await _ask(h, "What is DeepSeek?")
    assert (await _ask(h, PARAPHRASE)).content == f"{FAQ_LABEL}\n\nLiang Wenfeng."
    await _answers_logged(h, 2)
    queue = ReviewQueue(h.db, FaqMatcher(None, 0.8))
    await queue.record(Sighting("refused", h.discord.guild_id, h.discord.channel_id, None, "Best sourdough?", 5))

    stats, png = await _stats_chart(h, mod)
    assert "**Questions:** 2" in stats and "**Answered from the FAQ:** 1 · 50% of questions" in stats
    assert "**Open review cards:** 1" in stats and "**Open review cards:** 0" in empty
    assert _png_size(png) == (800, 500) and len(png) > 10_000
    assert h.discord.mention_violations == []
