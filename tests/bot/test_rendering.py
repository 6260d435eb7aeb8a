"""Pure rendering: splitting, labels, the sources embed within Discord's limits."""

from __future__ import annotations

import re

import discord
import pytest

from bot.rendering import (
    EXTRACTIVE_LABEL,
    REFUSAL_LABEL,
    UNGROUNDED_LABEL,
    answer_text,
    full_quotes,
    render_answer,
    sources_embed,
    split_text,
)
from rag.types import Answer, Citation, SourceInfo


def _citation(n: int, quote: str = "DeepSeek was founded by Liang Wenfeng.", title: str = "The article") -> Citation:
    return Citation(n, f"c{n}", title, f"https://example.org/{n}", "2025-01-27", "History", quote, "Example News")


def _embed_total(embed: discord.Embed) -> int:
    d = embed.to_dict()
    fields = sum(len(f["name"]) + len(f["value"]) for f in d.get("fields", []))
    return len(d.get("title", "")) + len(d.get("description", "")) + fields + len(d.get("footer", {}).get("text", ""))


def test_short_text_is_one_message() -> None:
    assert split_text("Hello [1].") == ["Hello [1]."]


def test_long_answer_splits_at_paragraphs_then_sentences() -> None:
    sentence = "DeepSeek trained V3 on 2,048 H800 GPUs for about two months according to its report [1]."
    paragraphs = [" ".join([sentence] * 12) for _ in range(6)]  # ~6,300 characters
    text = "\n\n".join(paragraphs)
    pieces = split_text(text)
    assert len(pieces) >= 4 and all(len(p) <= 2000 for p in pieces)
    assert all(p.endswith("[1].") for p in pieces)  # cut between sentences, never inside one or a marker
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())


def test_no_cut_inside_a_word_or_marker_even_without_punctuation() -> None:
    text = " ".join(f"word{i} [{i % 9 + 1}]" for i in range(900))  # one 9,000-char "sentence"
    pieces = split_text(text)
    assert all(len(p) <= 2000 for p in pieces)
    words = " ".join(pieces).split()
    assert words == text.split()
    for piece in pieces:
        assert not re.search(r"\[\d*$", piece) and not re.match(r"^\d*\]", piece)


def test_code_blocks_stay_whole_or_are_refenced() -> None:
    code = "```python\n" + "\n".join(f"print({i})" for i in range(40)) + "\n```"
    pieces = split_text("Intro sentence.\n\n" + code + "\n\nOutro [1].", limit=200)
    for piece in pieces:
        assert piece.count("```") % 2 == 0, piece  # every piece opens and closes its fences
    joined = "\n".join(pieces)
    assert all(f"print({i})" in joined for i in range(40))


def test_labels_for_each_kind_of_answer() -> None:
    closest = (SourceInfo("a", "EU AI Act", "https://eu/act"),)
    refusal = Answer("My sources don't cover that.", (), False, True, "generative", closest=closest)
    assert answer_text(refusal).startswith(REFUSAL_LABEL) and "[EU AI Act](<https://eu/act>)" in answer_text(refusal)
    extractive = Answer("Text [1].", (_citation(1),), True, False, "extractive")
    assert answer_text(extractive).startswith(EXTRACTIVE_LABEL)
    ungrounded = Answer("Unsourced claim.", (), False, False, "generative")
    assert answer_text(ungrounded).startswith(UNGROUNDED_LABEL)
    noted = Answer("Text [1].", (_citation(1),), True, False, "generative", notes=("Answered by the fallback.",))
    assert answer_text(noted).endswith("*Answered by the fallback.*")


def test_sources_embed_links_without_previews() -> None:
    embed = sources_embed((_citation(1), _citation(2, title="A [weird] *title*")))
    assert embed is not None
    description = embed.description or ""
    assert "**[1]** [The article](<https://example.org/1>) — Example News · 2025-01-27" in description
    assert "> DeepSeek was founded by Liang Wenfeng." in description
    assert r"A \[weird\] \*title\*" in description
    assert sources_embed(()) is None


def test_sources_embed_fits_discord_limits_with_many_long_quotes() -> None:
    citations = tuple(_citation(n, quote="A long quote about export controls. " * 40) for n in range(1, 31))
    embed = sources_embed(citations)
    assert embed is not None
    assert len(embed.description or "") <= 4096 and len(embed.fields) <= 25 and _embed_total(embed) <= 6000


def test_render_and_full_quotes() -> None:
    answer = Answer("Liang Wenfeng founded DeepSeek [1].", (_citation(1),), True, False, "generative")
    rendered = render_answer(answer)
    assert rendered.messages == ("Liang Wenfeng founded DeepSeek [1].",) and rendered.embed is not None
    quotes = full_quotes((_citation(1, quote="Q " * 1500),))
    assert len(quotes) >= 2 and all(len(q) <= 2000 for q in quotes)


@pytest.mark.parametrize("limit", [50, 200, 2000])
def test_split_never_exceeds_the_limit(limit: int) -> None:
    text = "Para one is short.\n\n" + ("Sentence with several words here. " * 200) + "\n\nEnd [2]."
    assert all(0 < len(p) <= limit for p in split_text(text, limit))
