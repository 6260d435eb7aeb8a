"""The form moderators write an FAQ entry in, and turning the passage ids they give into citations."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

import discord

from bot.replies import report_error
from curation.faq import FAQ_ANSWER_MAX_CHARS, FAQ_QUESTION_MAX_CHARS, REVIEW_DATE_EXAMPLE, parse_review_date

# Discord's own cap on a text input. The entry limits are lower, but a longer answer being pinned must still
# fit in the form so the moderator can shorten it there; validate_faq then says what is too long.
TEXT_INPUT_MAX = 4000
SOURCES_MAX = 1000
# Longer than a date, so a mistyped one reaches parse_review_date and its explanation, not Discord's length error.
REVIEW_BY_MAX = 40
_ID_SEPARATORS = re.compile(r"[\s,;]+")
MODAL_TIMEOUT = 15 * 60  # an interaction token's lifetime: a later submit could not be answered anyway


@dataclass(frozen=True, slots=True)
class FaqDraft:
    """What a moderator submitted. source_ids is None when the form had no sources field (Pin as FAQ);
    review_by is None when the form had no review field or it was left empty (or cleared)."""

    question: str
    answer: str
    source_ids: tuple[str, ...] | None
    review_by: date | None = None


OnSubmit = Callable[[discord.Interaction, FaqDraft], Awaitable[None]]


def _prefill(text: str, limit: int = TEXT_INPUT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class FaqModal(discord.ui.Modal):
    def __init__(
        self,
        *,
        title: str,
        on_submit: OnSubmit,
        question: str = "",
        answer: str = "",
        sources: str | None = None,
        ask_review_by: bool = False,
        review_by: date | None = None,
    ) -> None:
        """`sources` None: no sources field; `ask_review_by`: a "Review by" field (prefilled with `review_by`),
        for callers that save it (a field whose value is dropped would lose what the moderator typed)."""
        super().__init__(title=title, timeout=MODAL_TIMEOUT)
        self._on_submit = on_submit
        self.question: discord.ui.TextInput[FaqModal] = discord.ui.TextInput(
            label="Question",
            custom_id="question",
            placeholder=f"As members ask it (at most {FAQ_QUESTION_MAX_CHARS} characters)",
            default=_prefill(question) or None,
            max_length=TEXT_INPUT_MAX,
        )
        self.answer: discord.ui.TextInput[FaqModal] = discord.ui.TextInput(
            label="Answer",
            custom_id="answer",
            style=discord.TextStyle.paragraph,
            placeholder=f"Markdown is fine; at most {FAQ_ANSWER_MAX_CHARS:,} characters",
            default=_prefill(answer) or None,
            max_length=TEXT_INPUT_MAX,
        )
        self.add_item(self.question)
        self.add_item(self.answer)
        self.sources = _sources_input(sources) if sources is not None else None
        if self.sources is not None:
            self.add_item(self.sources)
        self.review_by = _review_input(review_by) if ask_review_by else None
        if self.review_by is not None:
            self.add_item(self.review_by)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        # A bad date raises UserFacingError before anything is saved; on_error shows it to the moderator.
        review_by = parse_review_date(self.review_by.value) if self.review_by is not None else None
        ids = parse_chunk_ids(self.sources.value) if self.sources is not None else None
        await self._on_submit(interaction, FaqDraft(self.question.value, self.answer.value, ids, review_by))

    # discord.py's own Modal.on_error drops BaseView's `item` argument; this matches Modal, not BaseView.
    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await report_error(interaction, error)


def _sources_input(default: str) -> discord.ui.TextInput[FaqModal]:
    return discord.ui.TextInput(
        label="Source passage ids (optional)",
        custom_id="sources",
        style=discord.TextStyle.paragraph,
        placeholder="chunk_id values from `ragbot search --json`, separated by spaces or commas",
        default=default or None,
        required=False,
        max_length=SOURCES_MAX,
    )


def _review_input(review_by: date | None) -> discord.ui.TextInput[FaqModal]:
    return discord.ui.TextInput(
        label="Review by (optional)",
        custom_id="review_by",
        placeholder=f"YYYY-MM-DD, e.g. {REVIEW_DATE_EXAMPLE}: /faq list flags the entry after this day",
        default=review_by.isoformat() if review_by else None,
        required=False,
        max_length=REVIEW_BY_MAX,
    )


def parse_chunk_ids(text: str) -> tuple[str, ...]:
    """Ids separated by spaces, commas or semicolons; order kept, repeats dropped."""
    return tuple(dict.fromkeys(part for part in _ID_SEPARATORS.split(text) if part))


def unknown_ids_text(unknown: Sequence[str]) -> str:
    listed = ", ".join(f"`{i[:40]}`" for i in unknown[:10]) + (" …" if len(unknown) > 10 else "")
    return (
        f"⚠️ These source ids are not in the index: {listed}. Nothing was saved. "
        "Passage ids are the `chunk_id` values `ragbot search --json` prints."
    )
