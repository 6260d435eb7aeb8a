"""One label model: the terminal and Discord show the same labels for the same answer."""

from __future__ import annotations

import pytest

from bot.rendering import LABEL_TEXT as DISCORD_TEXT
from bot.rendering import answer_text
from bot.rendering import render_answer as render_for_discord
from rag.answer_parts import REFUSAL
from rag.labels import Label, label_answer
from rag.types import Answer, Citation, SourceInfo
from ragbot.terminal import LABEL_TEXT as TERMINAL_TEXT
from ragbot.terminal import render_answer

OLD = Citation(1, "a#1", "Old rules", "https://example.org/old", "2019-01-01", "", "A quote.", outdated=True)
NEW = Citation(2, "b#1", "New rules", "", "2025-01-01", "", "Another quote.")
CLOSEST = (SourceInfo("a", "Old rules", "https://example.org/old"),)

ANSWERS = {
    "generative, cited": (Answer("Text [1][2].", (OLD, NEW), True, False, "generative"), {Label.OUTDATED}),
    "generative, no citation": (Answer("Text.", (), False, False, "generative"), {Label.UNGROUNDED}),
    "extractive": (Answer("Text [1].", (NEW,), True, False, "extractive"), {Label.EXTRACTIVE}),
    "faq without sources": (Answer("Approved.", (), False, False, "faq", faq_id=3), {Label.FAQ}),
    "faq with an old source": (Answer("Approved [1].", (OLD,), True, False, "faq"), {Label.FAQ, Label.OUTDATED}),
    "flagged, with notes": (
        Answer("Claim [1].", (NEW,), True, False, "generative", flagged=("Claim",), notes=("Cut off.",)),
        {Label.FLAGGED, Label.NOTE},
    ),
    "refused": (Answer(REFUSAL, (), False, True, "generative", closest=CLOSEST), {Label.REFUSED}),
}


def _shown(text: str, vocabulary: dict[Label, str], answer: Answer) -> set[Label]:
    """The labels whose wording appears in a rendering (a note shows as its own text)."""
    shown = {label for label, wording in vocabulary.items() if wording and wording in text}
    return shown | ({Label.NOTE} if answer.notes and all(n in text for n in answer.notes) else set())


@pytest.mark.parametrize("name", ANSWERS)
def test_terminal_and_discord_show_the_labels_the_core_decided(name: str) -> None:
    answer, expected = ANSWERS[name]
    assert label_answer(answer).shown == expected
    assert _shown(render_answer(answer), TERMINAL_TEXT, answer) == expected
    rendered = render_for_discord(answer)
    discord_text = "\n".join(rendered.messages) + (rendered.embed.description or "" if rendered.embed else "")
    assert _shown(discord_text, DISCORD_TEXT, answer) == expected


def test_an_faq_answer_without_sources_carries_no_warning_anywhere() -> None:
    answer, _ = ANSWERS["faq without sources"]
    assert "cites no source" not in render_answer(answer) and "cites no source" not in answer_text(answer)
    assert render_answer(answer).startswith("Moderator-approved answer (FAQ).")
    assert answer_text(answer).startswith("📌 **Moderator-approved answer**")


def test_headline_labels_come_before_the_answer_in_one_order() -> None:
    answer = Answer("Only text.", (), False, False, "extractive")
    assert label_answer(answer).headline == (Label.EXTRACTIVE, Label.UNGROUNDED)
    terminal = render_answer(answer)
    assert terminal.index("Extractive answer") < terminal.index("cites no source") < terminal.index("Only text.")
    discord = answer_text(answer)
    assert discord.index("Extractive answer") < discord.index("cites no source") < discord.index("Only text.")
