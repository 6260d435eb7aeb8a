"""Pure rendering of a brief's primary sources in Discord: linked without previews, within the embed's limits."""

from __future__ import annotations

import re

from bot.rendering import (
    EMBED_DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    REFUSAL_LABEL,
    answer_text,
    full_quotes,
    sources_embed,
)
from rag.answer_parts import ENGLISH_ONLY, REFUSAL
from rag.types import Answer, Citation, PrimarySource, SourceInfo

PRIMARY = (
    PrimarySource("CNBC, Jan 27, 2025", "https://www.cnbc.com/nvidia", confirmed=False),
    PrimarySource("DeepSeek-V3 Technical Report", "https://arxiv.org/abs/2412.19437"),
    PrimarySource("A source with no address"),
)


def _brief(n: int, primary: tuple[PrimarySource, ...] = PRIMARY, quote: str = "Nvidia fell 17%.") -> Citation:
    return Citation(
        n, f"b{n}", "The Nvidia sell-off", "", "2026-11-28", "Market", quote, "ragbot curators", False, "brief", primary
    )


def _links_whole(text: str) -> bool:
    """Every masked link is complete: no "[title](<" left without its ">)"."""
    return text.count("](<") == len(re.findall(r"\]\(<[^<>\s]+>\)", text))


def test_a_brief_shows_curated_and_its_primary_sources() -> None:
    embed = sources_embed((_brief(1),))
    assert embed is not None
    head, primary, quote = (embed.description or "").split("\n")
    assert head == "**[1]** The Nvidia sell-off — curated brief · ragbot curators · 2026-11-28"
    assert primary == (
        "Primary sources: [CNBC, Jan 27, 2025](<https://www.cnbc.com/nvidia>) *(link not confirmed)*"
        " · [DeepSeek-V3 Technical Report](<https://arxiv.org/abs/2412.19437>) · A source with no address"
    )
    assert quote == "> Nvidia fell 17%."


def test_an_article_citation_has_no_primary_sources_line() -> None:
    article = Citation(1, "a", "The article", "https://example.org/a", "2025", "", "A quote.", "Blog", kind="article")
    embed = sources_embed((article,))
    assert embed is not None and (embed.description or "").split("\n") == [
        "**[1]** [The article](<https://example.org/a>) — Blog · 2025",
        "> A quote.",
    ]


def test_many_briefs_with_many_long_sources_fit_and_no_link_is_cut() -> None:
    many = tuple(
        PrimarySource(f"Primary source {i} " + "t" * 150, f"https://example.org/{i}/" + "p" * 150) for i in range(9)
    )
    citations = tuple(_brief(n, many, quote="q" * 900) for n in range(1, 21))
    embed = sources_embed(citations)
    assert embed is not None
    description = embed.description or ""
    total = len(embed.title or "") + len(description) + len(embed.footer.text or "")
    assert len(description) <= EMBED_DESCRIPTION_LIMIT and total <= EMBED_TOTAL_LIMIT
    assert _links_whole(description) and len(embed.fields) <= 25
    assert "**[1]** The Nvidia sell-off — curated brief" in description
    assert re.search(r"…and \d+ more sources$", description) or "**[20]**" in description


def test_the_sources_button_lists_every_primary_source_in_messages_under_2000() -> None:
    many = tuple(PrimarySource(f"Source {i}", f"https://example.org/{i}", confirmed=i % 2 == 0) for i in range(12))
    pieces = full_quotes(tuple(_brief(n, many) for n in range(1, 9)))
    assert all(len(p) <= 2000 for p in pieces)
    joined = "\n".join(pieces)
    assert all(f"[Source {i}](<https://example.org/{i}>)" in joined for i in range(12))
    assert joined.count("*(link not confirmed)*") == 8 * 6 and _links_whole(joined)


def test_a_refusal_says_why() -> None:
    closest = (SourceInfo("a", "EU AI Act", "https://eu/act"),)
    usual = Answer(REFUSAL, (), False, True, "extractive", closest=closest)
    assert answer_text(usual).startswith(REFUSAL_LABEL + "\nThe closest sources I have:")
    english_only = Answer(ENGLISH_ONLY, (), False, True, "extractive", closest=closest)
    assert answer_text(english_only).startswith(f"🤷 **{ENGLISH_ONLY}**\nThe closest sources I have:")


def test_a_refusals_closest_brief_links_its_primary_sources() -> None:
    brief = SourceInfo("briefs/sell-off", "The Nvidia sell-off", "", "ragbot curators", "2026-11-28", "brief", PRIMARY)
    many = SourceInfo("briefs/v3", "DeepSeek-V3", "", kind="brief", primary_sources=PRIMARY * 2)
    article = SourceInfo("a", "Will China's new AI model threaten US dominance?", "https://example.org/a")
    text = answer_text(Answer(REFUSAL, (), False, True, "extractive", closest=(brief, many, article)))
    assert text.split("\n") == [
        REFUSAL_LABEL,
        "The closest sources I have:",
        "• The Nvidia sell-off — curated brief",
        "  Primary sources: [CNBC, Jan 27, 2025](<https://www.cnbc.com/nvidia>) *(link not confirmed)*"
        " · [DeepSeek-V3 Technical Report](<https://arxiv.org/abs/2412.19437>) · A source with no address",
        "• DeepSeek-V3 — curated brief",
        "  Primary sources: [CNBC, Jan 27, 2025](<https://www.cnbc.com/nvidia>) *(link not confirmed)*"
        " · [DeepSeek-V3 Technical Report](<https://arxiv.org/abs/2412.19437>) · A source with no address"
        " · and 3 more",
        "• [Will China's new AI model threaten US dominance?](<https://example.org/a>)",
    ]
    assert _links_whole(text)
