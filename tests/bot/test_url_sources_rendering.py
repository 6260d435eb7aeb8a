"""Replies to `/sources add` and `/sources remove`, and the origin in `/sources list`: pure, within limits."""

from __future__ import annotations

from bot.admin_rendering import render_source_change, render_sources_page
from bot.rendering import MESSAGE_LIMIT
from rag.catalog import DocumentRecord
from rag.types import SourceInfo
from rag.web_sources import SourceChange

URL = "https://example.org/news/act"


def test_an_added_page_links_its_title_without_a_preview() -> None:
    change = SourceChange(URL, "added", "…", title="The [Audit] *Act*", source_id="url:example.org/1", chunks=3)
    text = render_source_change(change)
    assert (
        text
        == f"🌐 **Added** [The (Audit) \\*Act\\*](<{URL}>) — 3 passages. Questions about it are answered from it now."
    )


def test_a_long_address_and_reason_still_fit_one_line() -> None:
    long = "https://example.org/" + "p" * 2000
    text = render_source_change(SourceChange(long, "failed", "the page is image/png " * 100 + "; nothing was changed"))
    assert len(text) <= MESSAGE_LIMIT and "\n" not in text and text.startswith("⚠️ Nothing was changed for `https://")
    assert "<https://" not in text  # cut addresses are shown, not linked


def test_pages_from_urls_are_marked_in_the_list() -> None:
    corpus = DocumentRecord(
        SourceInfo("brief", "A brief", "https://a.org", published="2025-01-01"), "c/brief.md", "h", 2, "", {}
    )
    page = DocumentRecord(SourceInfo("url:example.org/1", "A page", URL), URL, "h", 1, "", {"origin": "url"})
    text = render_sources_page([corpus, page], 1, 1, 2, from_urls=1)
    assert text.splitlines() == [
        "📚 **Indexed sources** — 2 in all (1 corpus files, 1 🌐 from a URL) · page 1/1",
        "• [A brief](<https://a.org>) — 2025-01-01 · 2 chunks",
        f"• [A page](<{URL}>) — undated · 1 chunk · 🌐 from a URL",
    ]
