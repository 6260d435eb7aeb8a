"""The buttons under a review card and the "Add source" form. A button's custom id carries the card id and the bot
registers it as a dynamic item, so cards posted before a restart keep working; who may press is checked by the
review cog when pressed."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import discord

from bot.modals import MODAL_TIMEOUT
from bot.replies import report_error
from rag.web import MAX_URL_CHARS

if TYPE_CHECKING:
    from curation.review import Card

log = logging.getLogger(__name__)
Action = Literal["faq", "source", "dismiss"]
REVIEW_COG = "Review"  # the cog whose `pressed` handles the buttons
_LABELS: dict[Action, tuple[str, str, discord.ButtonStyle]] = {
    "faq": ("Write FAQ", "✍️", discord.ButtonStyle.primary),
    "source": ("Add source", "🌐", discord.ButtonStyle.secondary),
    "dismiss": ("Dismiss", "🗑️", discord.ButtonStyle.secondary),
}
OnPress = Callable[[discord.Interaction, Action, int], Awaitable[None]]
OnUrl = Callable[[discord.Interaction, str], Awaitable[None]]


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"ragbot:review:(?P<action>faq|source|dismiss):(?P<id>[0-9]+)",
):
    def __init__(self, action: Action, card_id: int) -> None:
        self.action: Action = action
        self.card_id = card_id
        label, emoji, style = _LABELS[action]
        super().__init__(
            discord.ui.Button(style=style, label=label, emoji=emoji, custom_id=f"ragbot:review:{action}:{card_id}")
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ReviewButton:
        action = next(a for a in _LABELS if a == match["action"])
        return cls(action, int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog(REVIEW_COG)  # type: ignore[attr-defined]  # a commands.Bot
        handler: OnPress | None = getattr(cog, "pressed", None)
        try:
            if handler is None:
                raise RuntimeError("the review queue is not loaded")
            await handler(interaction, self.action, self.card_id)
        except Exception as exc:
            await report_error(interaction, exc)


def card_view(card: Card) -> discord.ui.View | None:
    """The buttons under an open card; a closed card has none."""
    if card.status != "open":
        return None
    view = discord.ui.View(timeout=None)
    for action in _LABELS:
        view.add_item(ReviewButton(action, card.id))
    return view


class SourceModal(discord.ui.Modal):
    """ "Add source": the address of a page that answers the card's question."""

    def __init__(self, on_submit: OnUrl) -> None:
        super().__init__(title="Add a source", timeout=MODAL_TIMEOUT)
        self._on_submit = on_submit
        self.url: discord.ui.TextInput[SourceModal] = discord.ui.TextInput(
            label="The page's address",
            custom_id="url",
            placeholder="https://… (an HTML page, a PDF or plain text)",
            max_length=MAX_URL_CHARS,
        )
        self.add_item(self.url)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._on_submit(interaction, self.url.value.strip())

    # discord.py's own Modal.on_error drops BaseView's `item` argument; this matches Modal, not BaseView.
    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await report_error(interaction, error)
