"""`/sources add url:` and `/sources remove` end to end: the real bot against the loopback Discord, the loopback
model server and a loopback web site. A page added by an administrator is cited by the next answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes.discord_server import InteractionOutcome
from fakes.web_site import Endless, WebSite
from harness import Harness, HarnessFactory
from web_pages import ACT_ANSWER, ACT_FACT, ACT_QUESTION, ACT_TITLE, act_html

from bot.admin_rendering import NO_URL_SOURCES
from bot.permissions import NOT_ADMINISTRATOR

LOOPBACK_ONLY = {"allow_private_urls": ["127.0.0.1/32"], "url_timeout": 5, "max_file_mb": 1}


@pytest.fixture
async def site() -> AsyncIterator[WebSite]:
    async with WebSite() as served:
        yield served


async def _sources(h: Harness, command: str, options: dict[str, Any], user: int) -> InteractionOutcome:
    return await h.settled(await h.discord.slash_command("sources", {command: options}, user_id=user), timeout=60)


async def _ask(h: Harness, question: str) -> InteractionOutcome:
    ix = await h.discord.slash_command("ask", {"question": question})
    await h.discord.wait_for_call(
        lambda c: c.method == "PATCH" and ix.token in c.path and bool((c.json or {}).get("components")), 15
    )
    return h.discord.interaction_outcome(ix)


def added_id(h: Harness) -> str | None:
    found = [d.source.id for d in h.service.index.catalog.documents() if d.extra.get("origin") == "url"]
    return found[0] if found else None


def _prompt(h: Harness) -> str:
    return str(h.model.chat_requests[-1].json)


def _said(outcome: InteractionOutcome) -> str:
    """What the user reads; a reply with no message fails here."""
    assert outcome.content is not None, outcome
    return outcome.content


async def test_an_added_page_is_cited_by_the_next_answer(harness_factory: HarnessFactory, site: WebSite) -> None:
    h = await harness_factory(ingest_options=LOOPBACK_ONLY)
    url = site.page("/news/act.html", act_html())
    admin = h.add_administrator()
    for user in (h.discord.user_id, h.add_moderator()):
        refused = await _sources(h, "add", {"url": url}, user)
        assert refused.ephemeral and refused.content == NOT_ADMINISTRATOR
    assert site.requests == []  # refused before anything was downloaded

    added = await _sources(h, "add", {"url": url}, admin)
    assert h.discord.interaction_responses(added.interaction_id)[0].json["type"] == 5  # deferred first
    assert added.ephemeral and _said(added).startswith(f"🌐 **Added** [{ACT_TITLE}](<{url}>) — ")
    passages = len(h.service.index.catalog.chunks_of(str(added_id(h))))
    assert _said(added).endswith(
        f"— {passages} passage{'s' * (passages > 1)}. Questions about it are answered from it now."
    )

    h.model.enqueue_reply(ACT_ANSWER)
    answer = await _ask(h, ACT_QUESTION)
    assert ACT_FACT in _prompt(h)  # the page's passage reached the model as source [1]
    assert answer.content == ACT_ANSWER
    [embed] = answer.embeds
    assert f"**[1]** [{ACT_TITLE}](<{url}>)" in embed["description"]

    listing = await _sources(h, "list", {}, h.discord.user_id)
    assert "— 2 in all (1 corpus files, 1 🌐 from a URL) · page 1/1" in _said(listing)
    assert f"[{ACT_TITLE}](<{url}>) — 2025-03-14 · " in _said(listing) and " · 🌐 from a URL" in _said(listing)
    assert h.discord.mention_violations == []


async def test_a_failed_page_is_one_line_and_changes_nothing(harness_factory: HarnessFactory, site: WebSite) -> None:
    h = await harness_factory(ingest_options=LOOPBACK_ONLY)
    admin = h.add_administrator()
    picture = site.page("/picture.png", b"\x89PNG\r\n\x1a\n", "image/png")
    site.pages["/huge.txt"] = Endless(50_000_000)
    private = site.redirect("/go", "http://127.0.0.2/")
    catalog = h.service.index.catalog
    before = catalog.generation, catalog.chunk_count()
    for url, reason in (
        (picture, "the page is image/png; only HTML, PDF and plain text can be sources"),
        (site.url("/huge.txt"), "the page is larger than the 1 MB limit (RAGBOT\\_INGEST\\_\\_MAX\\_FILE\\_MB)"),
        (private, "refused 127.0.0.2: 127.0.0.2 is a loopback address; such addresses are refused unless"),
    ):
        failed = await _sources(h, "add", {"url": url}, admin)
        assert _said(failed).startswith(f"⚠️ Nothing was changed for <{url}>: {reason}")
        assert "\n" not in _said(failed)
    assert (catalog.generation, catalog.chunk_count()) == before


async def test_remove_is_for_administrators(harness_factory: HarnessFactory, site: WebSite) -> None:
    h = await harness_factory(ingest_options=LOOPBACK_ONLY)
    admin = h.add_administrator()
    url = site.page("/news/act.html", act_html())
    assert _said(await _sources(h, "add", {"url": url}, admin)).startswith("🌐 **Added**")
    refused = await _sources(h, "remove", {"source": url}, h.add_moderator())
    assert refused.content == NOT_ADMINISTRATOR

    removed = await _sources(h, "remove", {"source": url}, admin)
    assert _said(removed).startswith(f"🗑️ **Removed** <{url}> (") and _said(removed).endswith("no longer cited.")
    requests = len(h.model.chat_requests)
    h.model.enqueue_reply("The sources do not say [1].")
    answer = await _ask(h, ACT_QUESTION)
    assert all(ACT_FACT not in str(r.json) for r in h.model.chat_requests[requests:])
    assert url not in str(answer.message) and added_id(h) is None
    again = await _sources(h, "remove", {"source": url}, admin)
    assert again.content == (
        f"⚠️ Nothing was changed for <{url}>: no URL source has this address or id (see the list of sources)"
    )


async def test_refresh_reports_each_changed_or_failed_page(harness_factory: HarnessFactory, site: WebSite) -> None:
    h = await harness_factory(ingest_options=LOOPBACK_ONLY)
    admin = h.add_administrator()
    assert _said(await _sources(h, "refresh", {}, admin)) == NO_URL_SOURCES
    act = site.page("/news/act.html", act_html(), etag='"v1"')
    notes = site.page("/notes.txt", "Veltania's chatbot registry opens in May.", "text/plain")
    for url in (act, notes):
        assert _said(await _sources(h, "add", {"url": url}, admin)).startswith("🌐 **Added**")
    assert _said(await _sources(h, "refresh", {}, h.add_moderator())) == NOT_ADMINISTRATOR

    site.page("/news/act.html", act_html("Vendors may appeal within sixty days."), etag='"v2"')
    del site.pages["/notes.txt"]
    report = _said(await _sources(h, "refresh", {}, admin)).splitlines()
    assert report[0] == "🔄 **Web pages checked:** 1 updated, 0 unchanged, 1 failed"
    assert report[1].startswith(f"• <{act}> — updated: “{ACT_TITLE}”, ")
    assert report[2] == f"• <{notes}> — ⚠️ the server answered 404 Not Found (the indexed copy is kept)"
    assert any("sixty days" in c.text for c in h.service.index.catalog.iter_chunks())
