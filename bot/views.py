"""The buttons under an answer: 👍 / 👎 and Sources. Their custom ids carry the answer id, and the bot
registers them as dynamic items, so they keep working after a restart."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.events import REVIEW_SIGNAL, ReviewSignal
from bot.recording import recorded_answer
from bot.rendering import full_quotes
from bot.review_rendering import source_link

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
        if not self.up:
            await _report_downvote(interaction, self.answer_id)


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


async def _report_downvote(interaction: discord.Interaction, answer_id: str) -> None:
    """A 👎 is a gap for the review queue: the question that was answered and the sources it cited. After the
    thanks, and never failing the vote: the vote is recorded either way."""
    guild_id = interaction.guild_id
    try:
        stored = await recorded_answer(interaction.client.db, answer_id, guild_id)  # type: ignore[attr-defined]
        if stored is None or guild_id is None:
            return
        signal = ReviewSignal(
            kind="downvote",
            guild_id=guild_id,
            channel_id=interaction.channel_id or stored.channel_id or 0,
            message_id=interaction.message.id if interaction.message is not None else None,
            question=stored.question,
            asker_id=interaction.user.id,
            answer_id=answer_id,
            closest=tuple(source_link(c.title, c.url) for c in stored.citations),
        )
        interaction.client.dispatch(REVIEW_SIGNAL, signal)
    except Exception:
        log.exception("a 👎 on answer %s could not reach the review queue", answer_id)


def answer_view(answer_id: str, answer: Answer) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, up=True))
    view.add_item(VoteButton(answer_id, up=False))
    if answer.citations:
        view.add_item(SourcesButton(answer_id))
    return view
