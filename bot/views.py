"""The buttons under an answer: 👍 / 👎 and Sources. Their custom ids carry the answer id, and the bot
registers them as dynamic items, so they keep working after a restart."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.recording import recorded_answer
from bot.rendering import full_quotes

if TYPE_CHECKING:
    from rag.types import Answer

log = logging.getLogger(__name__)
_NONE = discord.AllowedMentions.none()


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"ragbot:vote:(?P<vote>up|down):(?P<id>[0-9a-f]{12})"
):
    def __init__(self, answer_id: str, up: bool) -> None:
        self.answer_id = answer_id
        self.up = up
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji="👍" if up else "👎",
                custom_id=f"ragbot:vote:{'up' if up else 'down'}:{answer_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(match["id"], match["vote"] == "up")

    async def callback(self, interaction: discord.Interaction) -> None:
        db = interaction.client.db  # type: ignore[attr-defined]
        await db.record_vote(self.answer_id, interaction.user.id, self.up, interaction.guild_id)
        interaction.client.observer.vote(self.up)  # type: ignore[attr-defined]
        thanks = "Thanks! Your 👍 was recorded." if self.up else "Thanks! Your 👎 was recorded; it helps curators."
        await interaction.response.send_message(thanks, ephemeral=True, allowed_mentions=_NONE)


class SourcesButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"ragbot:sources:(?P<id>[0-9a-f]{12})"):
    def __init__(self, answer_id: str) -> None:
        self.answer_id = answer_id
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label="Sources",
                emoji="📚",
                custom_id=f"ragbot:sources:{answer_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SourcesButton:
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        db = interaction.client.db  # type: ignore[attr-defined]
        stored = await recorded_answer(db, self.answer_id, interaction.guild_id)
        if stored is None:
            await interaction.response.send_message(
                "I no longer have the sources of this answer.", ephemeral=True, allowed_mentions=_NONE
            )
            return
        pieces = full_quotes(stored.citations)
        await interaction.response.send_message(pieces[0], ephemeral=True, allowed_mentions=_NONE)
        for piece in pieces[1:]:
            await interaction.followup.send(piece, ephemeral=True, allowed_mentions=_NONE)


def answer_view(answer_id: str, answer: Answer) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, up=True))
    view.add_item(VoteButton(answer_id, up=False))
    if answer.citations:
        view.add_item(SourcesButton(answer_id))
    return view
