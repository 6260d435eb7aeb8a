"""Pure rendering for moderators, the FAQ form's helpers and paging: content and Discord's limits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import discord
import pytest

from bot.admin_rendering import (
    FLAG_KEY,
    NO_FAQS,
    PIN_LIST_FULL,
    faq_line,
    pin_failure_text,
    render_faq,
    render_faq_page,
    render_reindex,
    render_sources_page,
    render_stats,
)
from bot.modals import parse_chunk_ids
from bot.paging import Page, clamp_page, page_count, page_view
from bot.rendering import EMBED_TOTAL_LIMIT, MESSAGE_LIMIT
from curation.db.records import FaqRecord, Stats
from curation.faq import FAQ_ANSWER_MAX_CHARS, FAQ_QUESTION_MAX_CHARS
from curation.freshness import Freshness
from rag.catalog import DocumentRecord
from rag.citations import citations_from_chunks
from rag.ingest import IngestReport
from rag.types import Chunk, Citation, SourceInfo

WHEN = datetime(2025, 1, 27, 12, tzinfo=UTC)


def _entry(i: int, question: str = "Who founded DeepSeek?", answer: str = "Liang Wenfeng.", **kw: Any) -> FaqRecord:
    return FaqRecord(i, 1, question, answer, kw.pop("citations", ()), 42, WHEN, WHEN, **kw)


def _citation(n: int, quote: str = "DeepSeek was founded by Liang Wenfeng.") -> Citation:
    return Citation(n, f"c{n}", "The article", f"https://example.org/{n}", "2025-01-27", "History", quote, "News")


def _stats(**kw: Any) -> Stats:
    values = {
        "since": WHEN,
        "until": None,
        "questions": 0,
        "refused": 0,
        "ungrounded": 0,
        "up": 0,
        "down": 0,
        "median_latency_ms": None,
        "p95_latency_ms": None,
        "top_refused": (),
        "top_downvoted": (),
    }
    return Stats(**(values | kw))


def _doc(i: int, title: str = "An article", url: str = "https://example.org/a", chunks: int = 3) -> DocumentRecord:
    return DocumentRecord(SourceInfo(f"s{i}", title, url, "News", "2025-01-27"), f"s{i}.md", "h", chunks, "", {})


def _embed_total(embed: discord.Embed) -> int:
    d = embed.to_dict()
    return len(d.get("title", "")) + len(d.get("description", "")) + len(d.get("footer", {}).get("text", ""))


# --- FAQ entries -------------------------------------------------------------------------------------------
def test_an_faq_page_lists_entries_and_fits_one_message() -> None:
    entries = [_entry(i, "Why? " * 60, pinned_message_id=5, citations=(_citation(1),)) for i in range(1, 11)]
    text = render_faq_page(entries, 2, 3, 23)
    assert text.startswith("📌 **FAQ entries** — 23 in all · page 2/3")
    assert "**#1** Why? Why?" in text and "**#10**" in text and "*1 source, pinned*" in text
    assert len(text) <= MESSAGE_LIMIT and "…" in text  # long questions are cut, not the page
    assert render_faq_page([], 1, 1, 0) == NO_FAQS


def test_an_entry_at_the_limits_is_shown_whole_within_discord_limits() -> None:
    question, answer = "Q" * FAQ_QUESTION_MAX_CHARS, "Answer sentence here. " * (FAQ_ANSWER_MAX_CHARS // 22)
    citations = tuple(_citation(n, "quote " * 200) for n in range(1, 9))
    rendered = render_faq(_entry(7, question, answer.strip(), citations=citations))
    assert all(len(m) <= MESSAGE_LIMIT for m in rendered.messages) and len(rendered.messages) == 2
    joined = " ".join(rendered.messages)
    assert rendered.messages[0] == f"**FAQ #7** · **Q:** {question}"
    assert rendered.messages[1].startswith("**A:** Answer sentence here.") and "Added by <@42>" in joined
    assert " ".join(joined.split()).count("Answer sentence here.") == FAQ_ANSWER_MAX_CHARS // 22
    assert rendered.embed is not None and _embed_total(rendered.embed) <= EMBED_TOTAL_LIMIT
    assert render_faq(_entry(1)).embed is None  # no sources, no embed


def test_pin_failures_say_why() -> None:
    assert "pin list is full" in pin_failure_text(400, PIN_LIST_FULL)
    assert "Pin Messages permission" in pin_failure_text(403, 50013)
    assert pin_failure_text(500, 0).endswith("Discord refused (500).")
    assert all(pin_failure_text(s, c).startswith("⚠️ The entry is saved") for s, c in ((403, 0), (500, 0)))


# --- insight -----------------------------------------------------------------------------------------------
def test_stats_show_rates_latency_and_top_questions() -> None:
    stats = _stats(
        questions=8,
        refused=2,
        ungrounded=3,
        up=3,
        down=1,
        median_latency_ms=850.0,
        p95_latency_ms=3420.0,
        top_refused=(("What is *the* best pizza?", 2),),
        top_downvoted=(("Who founded DeepSeek?", 1),),
    )
    text = render_stats(stats, 7)
    assert "**Questions:** 8" in text and ": 2 · 25%" in text
    assert "**Answered without a valid citation:** 3 of 6 answers · 50%" in text
    assert "**Votes:** 👍 3 · 👎 1 · 75% 👍" in text and "median 850 ms · 95th percentile 3.4 s" in text
    assert "1. What is \\*the\\* best pizza? (×2)" in text  # markdown in a question cannot restyle the list
    assert "1. Who founded DeepSeek? (👎 1)" in text


def test_stats_with_nothing_to_count() -> None:
    text = render_stats(_stats(), 1)
    assert "The last 24 hours" in text and "**Questions:** 0" in text
    assert ": 0 · —" in text and "median — · 95th percentile —" in text and "Most" not in text


def test_stats_with_long_questions_fit_one_message() -> None:
    long = tuple(("word " * 400, 3) for _ in range(20))
    text = render_stats(_stats(questions=60, refused=60, top_refused=long, top_downvoted=long), 365)
    assert len(text) <= MESSAGE_LIMIT and "**Most refused questions**" in text


# --- the corpus ----------------------------------------------------------------------------------------------
def test_sources_page_links_titles_and_counts_chunks() -> None:
    text = render_sources_page([_doc(1, "A [bracketed] *title*", chunks=1), _doc(2, url="")], 1, 1, 2)
    assert text.startswith("📚 **Indexed sources** — 2 in all · page 1/1")
    assert "• [A (bracketed) \\*title\\*](<https://example.org/a>) — 2025-01-27 · 1 chunk\n" in text
    assert text.endswith("• An article — 2025-01-27 · 3 chunks")
    assert "No sources are indexed" in render_sources_page([], 1, 1, 0)


def test_a_sources_page_of_long_titles_and_urls_drops_links_to_fit() -> None:
    docs = [_doc(i, "T" * 300, "https://example.org/" + "p" * 180) for i in range(10)]
    text = render_sources_page(docs, 1, 5, 50)
    assert len(text) <= MESSAGE_LIMIT and text.count("• ") == 10 and "https://" not in text


def test_reindex_report_lists_failures_within_one_message() -> None:
    assert render_reindex(IngestReport(unchanged=["a"])) == (
        "🔄 **Reindexed:** 0 added, 0 updated, 0 removed, 1 unchanged, 0 failed"
    )
    report = IngestReport(failed=[(f"corpus/bad`{i}.pdf", "not a PDF " * 30) for i in range(200)])
    text = render_reindex(report)
    assert len(text) <= MESSAGE_LIMIT and "200 failed" in text
    assert "• `corpus/bad'0.pdf` — not a PDF" in text and "more not shown*" in text


# --- the FAQ form's passage ids, and paging ---------------------------------------------------------------------
def test_source_ids_are_split_and_deduplicated() -> None:
    assert parse_chunk_ids(" a1, b2;a1\n c3 ") == ("a1", "b2", "c3")
    assert parse_chunk_ids("  ") == ()


def test_citations_quote_the_sentence_closest_to_the_answer() -> None:
    source = SourceInfo("s", "The article", "https://example.org", "News", "2025-01-27")
    text = "DeepSeek is based in Hangzhou. It was founded by Liang Wenfeng in 2023. It builds models."
    chunks = {"x": Chunk("x", source, text, ("History",), 0, len(text)), "y": Chunk("y", source, "Other.", (), 0, 6)}
    first, second = citations_from_chunks(["x", "y"], chunks, "Liang Wenfeng founded DeepSeek [1].")
    assert (first.n, first.quote, first.section, first.title) == (
        1,
        "It was founded by Liang Wenfeng in 2023.",
        "History",
        "The article",
    )
    assert (second.n, second.chunk_id, second.quote) == (2, "y", "Other.")


@pytest.mark.parametrize(("total", "pages"), [(0, 1), (1, 1), (10, 1), (11, 2), (23, 3)])
def test_page_count(total: int, pages: int) -> None:
    assert page_count(total) == pages


def test_pages_are_clamped_and_buttons_disabled_at_the_ends() -> None:
    assert (clamp_page(0, 3), clamp_page(9, 3), clamp_page(2, 3)) == (1, 3, 2)
    assert page_view(Page("faq", "x", 1, 1)) is None
    view = page_view(Page("faq", "x", 3, 3))
    assert view is not None
    previous, following = (child.item for child in view.children)  # type: ignore[attr-defined]
    assert (previous.custom_id, previous.disabled) == ("ragbot:page:faq:2", False)
    assert (following.custom_id, following.disabled) == ("ragbot:page:faq:4", True)


def test_an_faq_line_shows_uses_and_what_to_look_at() -> None:
    used = _entry(3, use_count=12, last_used_at=WHEN)
    assert faq_line(used) == f"**#3** Who founded DeepSeek? · 12 uses, last <t:{int(WHEN.timestamp())}:R>"
    assert faq_line(_entry(4)).endswith(" · never used")
    flags = Freshness(date(2026, 1, 2), changed=("EU AI *Act*",), removed=("Rule A", "Rule B"))
    assert faq_line(_entry(4), flags).splitlines()[1] == (
        "  ⏰ review was due 2026-01-02 · ✏️ source changed: EU AI \\*Act\\* · 🗑️ sources removed: Rule A, Rule B"
    )
    assert faq_line(_entry(4), Freshness()) == faq_line(_entry(4))


def test_a_page_of_flagged_entries_explains_the_flags_and_fits_one_message() -> None:
    long_title = "A very long source title " * 10
    entries = [_entry(i, "Q" * FAQ_QUESTION_MAX_CHARS, use_count=i, last_used_at=WHEN) for i in range(1, 11)]
    flags = {e.id: Freshness(date(2026, 1, 2), (long_title,)) for e in entries}
    page = render_faq_page(entries, 1, 1, 10, flags)
    assert len(page) <= MESSAGE_LIMIT and FLAG_KEY in page and "⏰ review was due 2026-01-02" in page
    assert "**#1** QQQ" in page and "**#10** QQQ" in page and "more not shown" not in page  # shorter, all there
    assert FLAG_KEY not in render_faq_page(entries, 1, 1, 10, {e.id: Freshness() for e in entries})

    worst = {e.id: Freshness(date(2026, 1, 2), (long_title,) * 3, (long_title,) * 3) for e in entries}
    page = render_faq_page(entries, 1, 1, 10, worst)  # entries are left out before the explanations are
    assert len(page) <= MESSAGE_LIMIT and "more not shown*\n" + FLAG_KEY in page and "and 1 more" in page


def test_stats_show_faq_hits() -> None:
    text = render_stats(_stats(questions=8, faq_hits=2, open_review_cards=3), 7)
    assert "**Answered from the FAQ:** 2 · 25% of questions\n**Open review cards:** 3\n" in text
    assert "**Answered from the FAQ:** 0 · — of questions" in render_stats(_stats(), 7)
