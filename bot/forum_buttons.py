"""The forum desk's two buttons under an answer in a post, and the delivery target that adds them.

Like the vote buttons (bot/views.py) they are dynamic items whose custom ids carry the answer id, so they keep
working after a restart; what they do lives in the forum cog, which they find through the client."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.delivery import MessageTarget
from rag.observe import current_answer_id

if TYPE_CHECKING:
    from bot.cogs.forum import ForumCog

log = logging.getLogger(__name__)
_ID = r"(?P<id>[0-9a-f]{12})"


def _desk(interaction: discord.Interaction) -> ForumCog | None:
    cog = interaction.client.get_cog("ForumCog")  # type: ignore[attr-defined]
    return cog  # type: ignore[no-any-return]


class SolvedButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"ragbot:forum:solved:{_ID}"):
    def __init__(self, answer_id: str) -> None:
        self.answer_id = answer_id
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.success,
                label="Solved",
                emoji="✅",
                custom_id=f"ragbot:forum:solved:{answer_id}",
                row=1,  # the post's own actions, under the votes and sources
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SolvedButton:
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        if (desk := _desk(interaction)) is not None:
            await desk.mark_solved(interaction)


class HumanButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"ragbot:forum:human:{_ID}"):
    def __init__(self, answer_id: str) -> None:
        self.answer_id = answer_id
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label="Ask a human",
                emoji="🙋",
                custom_id=f"ragbot:forum:human:{answer_id}",
                row=1,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> HumanButton:
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        if (desk := _desk(interaction)) is not None:
            await desk.ask_human(interaction, self.answer_id)


class ForumTarget(MessageTarget):
    """An answer in a forum post: delivered like any reply, with the desk's buttons beside the votes. The answer's
    id is the one `deliver` set for this question (the same id the vote buttons and the answer log carry)."""

    async def finish(self, pieces: tuple[str, ...], embed: discord.Embed | None, view: discord.ui.View) -> None:
        answer_id = current_answer_id.get()
        if answer_id is not None:
            view.add_item(SolvedButton(answer_id))
            view.add_item(HumanButton(answer_id))
        else:  # deliver always sets it; without it the buttons could not name their answer
            log.warning("a forum answer was delivered without an answer id; it has no Solved/Ask a human buttons")
        await super().finish(pieces, embed, view)
