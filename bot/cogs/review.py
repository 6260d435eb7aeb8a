"""The review queue in Discord: signals (a refused question, a 👎, an "Ask a human" press) become cards in the
configured review channel, and moderators turn them into FAQ entries or dismiss them from the card's buttons.

Nothing here may cost a member their answer: a card that cannot be filed, posted or edited is logged and left."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord.ext import commands

from bot.admin_rendering import saved_text
from bot.delivery import NO_MENTIONS
from bot.modals import FaqDraft, FaqModal
from bot.permissions import NOT_MODERATOR, is_moderator
from bot.rendering import render_answer
from bot.replies import reply, report_error
from bot.review_rendering import render_card
from curation.faq import FaqBook, FaqMatcher
from curation.review import ReviewQueue, Sighting
from rag.config import FaqSettings
from rag.types import Answer

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from bot.client import RagBot
    from bot.events import ReviewSignal
    from curation.db.records import FaqRecord
    from curation.review import Card
    from rag.service import RagService

log = logging.getLogger(__name__)
Action = Literal["faq", "dismiss"]
ALREADY_CLOSED = "This card is closed already; nothing was changed."
_LABELS: dict[Action, tuple[str, str, discord.ButtonStyle]] = {
    "faq": ("Write FAQ", "✍️", discord.ButtonStyle.primary),
    "dismiss": ("Dismiss", "🗑️", discord.ButtonStyle.secondary),
}
Postable = discord.TextChannel | discord.Thread


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"ragbot:review:(?P<action>faq|dismiss):(?P<id>[0-9]+)"
):
    """A button on a card; the card id is in its custom id, so it keeps working after a restart."""

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
        return cls("faq" if match["action"] == "faq" else "dismiss", int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog(ReviewCog.__cog_name__)  # type: ignore[attr-defined]
        try:
            if not isinstance(cog, ReviewCog):
                raise RuntimeError("the review cog is not loaded")
            await cog.pressed(interaction, self.action, self.card_id)
        except Exception as exc:
            await report_error(interaction, exc)


def card_view(card: Card) -> discord.ui.View | None:
    """The moderators' buttons under an open card; a closed card has none."""
    if card.status != "open":
        return None
    view = discord.ui.View(timeout=None)
    for action in _LABELS:
        view.add_item(ReviewButton(action, card.id))
    return view


def _matcher(service: RagService) -> FaqMatcher:
    """A matcher scoring like the FAQ's (same model, same threshold), with a vector cache of its own."""
    book = service.faqs
    if isinstance(book, FaqBook):
        return FaqMatcher(book.matcher.embedder, book.matcher.threshold)
    return FaqMatcher(service.index.embedder, FaqSettings().threshold)


def _sighting(signal: ReviewSignal) -> Sighting:
    return Sighting(
        kind=signal.kind,
        guild_id=signal.guild_id,
        channel_id=signal.channel_id,
        message_id=signal.message_id,
        question=signal.question,
        user_id=signal.asker_id,
        answer_id=signal.answer_id,
        closest=signal.closest,
    )


class ReviewCog(commands.Cog, name="Review"):
    def __init__(self, bot: RagBot) -> None:
        self.bot = bot
        self.queue = ReviewQueue(bot.db, _matcher(bot.service))
        # One card update at a time per guild: two similar questions at once must not post two cards.
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._warned = False

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ReviewButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ReviewButton)

    # --- signals → cards ------------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_review_signal(self, signal: ReviewSignal) -> None:
        if self.bot.config.review_channel is None:
            return  # no review queue configured: signals are ignored quietly
        try:
            channel = self._review_channel(signal.guild_id)
            if channel is None:
                return
            async with self._locks[signal.guild_id]:
                recorded = await self.queue.record(_sighting(signal))
                if recorded.counted:
                    await self._show(channel, recorded.card)
        except Exception:
            log.exception("could not file a review card for %r", signal.question[:80])

    def _review_channel(self, guild_id: int) -> Postable | None:
        """The review channel, when it belongs to the guild the signal came from: one server's questions never
        reach another server's moderators."""
        channel_id = self.bot.config.review_channel
        channel = self.bot.get_channel(channel_id) if channel_id is not None else None
        if not isinstance(channel, Postable):
            if not self._warned:
                self._warned = True
                log.warning("RAGBOT_DISCORD__REVIEW_CHANNEL %s is not a text channel the bot can see", channel_id)
            return None
        return channel if channel.guild.id == guild_id else None

    async def _show(self, channel: Postable, card: Card) -> None:
        """Edit the card's message, or post it when it has none (or it was deleted)."""
        if card.card_message_id is not None and card.card_channel_id == channel.id and await self._edit(card):
            return
        view = card_view(card) or discord.utils.MISSING  # a card is open when it is posted: it has buttons
        message = await channel.send(embed=render_card(card), view=view, allowed_mentions=NO_MENTIONS)
        await self.queue.set_message(card.id, card.guild_id, channel.id, message.id)

    async def _edit(self, card: Card) -> bool:
        """False when the card's message is gone; other failures are logged by the caller."""
        channel = self.bot.get_channel(card.card_channel_id or 0)
        if not isinstance(channel, Postable) or card.card_message_id is None:
            return False
        message = channel.get_partial_message(card.card_message_id)
        try:
            await message.edit(embed=render_card(card), view=card_view(card), allowed_mentions=NO_MENTIONS)
        except discord.NotFound:
            log.info("review card %d: its message was deleted; posting it again", card.id)
            return False
        return True

    # --- the buttons ----------------------------------------------------------------------------------
    async def pressed(self, interaction: discord.Interaction, action: Action, card_id: int) -> None:
        """A card's button: moderators only, checked here whatever Discord shows to whom."""
        if not is_moderator(interaction, self.bot.config) or interaction.guild_id is None:
            await reply(interaction, NOT_MODERATOR)
            return
        card = await self.queue.get(card_id, interaction.guild_id)
        if card is None or card.status != "open":
            await reply(interaction, ALREADY_CLOSED)
            return
        if action == "faq":
            save = functools.partial(self._save_faq, card=card)
            await interaction.response.send_modal(FaqModal(title="Write FAQ", question=card.question, on_submit=save))
            return
        async with self._locks[card.guild_id]:  # a signal being filed must not re-show the card as open
            closed = await self.queue.close(
                card.id, card.guild_id, status="dismissed", by=interaction.user.id, how="dismissed"
            )
            if closed is None:
                await reply(interaction, ALREADY_CLOSED)
                return
            await interaction.response.edit_message(embed=render_card(closed), view=None, allowed_mentions=NO_MENTIONS)

    async def _save_faq(self, interaction: discord.Interaction, draft: FaqDraft, *, card: Card) -> None:
        """Save the entry (its rules are the FAQ's: curation.faq.validate_faq), close the card, answer the
        askers still waiting in an open thread, and tell the moderator."""
        if not is_moderator(interaction, self.bot.config):
            await reply(interaction, NOT_MODERATOR)
            return
        entry = await self.bot.db.add_faq(card.guild_id, draft.question, draft.answer, author_id=interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)  # posting in threads may take a moment
        how = f"wrote FAQ entry #{entry.id}"
        async with self._locks[card.guild_id]:  # a signal being filed must not re-show the card as open
            closed = await self.queue.close(card.id, card.guild_id, status="resolved", by=interaction.user.id, how=how)
            if closed is not None:
                await self._quietly(self._edit(closed), f"review card {card.id}: could not edit it")
        notes = [saved_text(entry)]
        if closed is None:
            notes.append("The card had been closed meanwhile; the entry is saved all the same.")
        else:
            answered = await self._answer_askers(closed, entry)
            if answered:
                notes.append(f"Posted the answer in {answered} open thread{'s' if answered > 1 else ''}.")
        await reply(interaction, "\n".join(notes))

    async def _answer_askers(self, card: Card, entry: FaqRecord) -> int:
        """The new answer, posted where the question was asked if that is a thread or forum post still open."""
        answer = Answer(entry.answer, entry.citations, bool(entry.citations), False, "faq", faq_id=entry.id)
        rendered = render_answer(answer)
        posted = 0
        for channel_id in dict.fromkeys(place.channel_id for place in card.places):
            thread = self.bot.get_channel(channel_id)
            if not isinstance(thread, discord.Thread) or thread.archived or thread.locked:
                continue
            if await self._quietly(_post(thread, rendered.messages, rendered.embed), f"thread {channel_id}"):
                posted += 1
        return posted

    @staticmethod
    async def _quietly(work: Awaitable[bool | None], what: str) -> bool:
        """Run a Discord call whose failure must not undo what was saved: logged, False."""
        try:
            return await work is not False
        except discord.HTTPException as exc:
            log.info("%s: %s", what, exc)
            return False


async def _post(thread: discord.Thread, pieces: tuple[str, ...], embed: discord.Embed | None) -> None:
    for i, piece in enumerate(pieces, 1):
        final = embed if i == len(pieces) and embed is not None else discord.utils.MISSING
        await thread.send(piece, embed=final, allowed_mentions=NO_MENTIONS)
