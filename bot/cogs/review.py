"""The review queue in Discord: signals (a refused question, a 👎, an "Ask a human" press) become cards in the
configured review channel, and moderators turn them into FAQ entries or dismiss them from the card's buttons.

Nothing here may cost a member their answer: a card that cannot be filed, posted or edited is logged and left."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.admin_rendering import render_source_change, saved_text
from bot.cogs.admin import add_web_page
from bot.delivery import NO_MENTIONS, Asker, MessageTarget
from bot.modals import FaqDraft, FaqModal
from bot.permissions import NOT_ADMINISTRATOR, NOT_MODERATOR, is_administrator, is_moderator
from bot.rendering import render_answer
from bot.replies import reply
from bot.review_rendering import render_card, source_link
from bot.review_views import REVIEW_COG, Action, ReviewButton, SourceModal, card_view
from curation.faq import FaqBook, FaqMatcher
from curation.review import ReviewQueue, Sighting
from rag.config import FaqSettings
from rag.types import Answer

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from bot.client import RagBot
    from bot.cogs.ask import AskCog
    from bot.events import ReviewSignal
    from curation.db.records import FaqRecord
    from curation.review import Card, Place
    from rag.service import RagService

log = logging.getLogger(__name__)
ALREADY_CLOSED = "This card is closed already; nothing was changed."
CLOSED_MEANWHILE = "The card had been closed meanwhile."
Postable = discord.TextChannel | discord.Thread


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


class ReviewCog(commands.Cog, name=REVIEW_COG):
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
        """A card's button. Checked here, whatever Discord shows to whom: moderators curate; adding a source
        changes what every server is answered from, so it takes an administrator, as `/sources add` does."""
        if not await self._allowed(interaction, action):
            return
        assert interaction.guild_id is not None
        card = await self.queue.get(card_id, interaction.guild_id)
        if card is None or card.status != "open":
            await reply(interaction, ALREADY_CLOSED)
        elif action == "faq":
            save = functools.partial(self._save_faq, card=card)
            await interaction.response.send_modal(FaqModal(title="Write FAQ", question=card.question, on_submit=save))
        elif action == "source":
            await interaction.response.send_modal(SourceModal(functools.partial(self._add_source, card=card)))
        else:
            await self._dismiss(interaction, card)

    async def _allowed(self, interaction: discord.Interaction, action: Action) -> bool:
        if action == "source":
            allowed, refusal = is_administrator(interaction), NOT_ADMINISTRATOR
        else:
            allowed, refusal = is_moderator(interaction, self.bot.config), NOT_MODERATOR
        if not allowed or interaction.guild_id is None:
            await reply(interaction, refusal)
            return False
        return True

    async def _dismiss(self, interaction: discord.Interaction, card: Card) -> None:
        async with self._locks[card.guild_id]:  # a signal being filed must not re-show the card as open
            closed = await self.queue.close(
                card.id, card.guild_id, status="dismissed", by=interaction.user.id, how="dismissed"
            )
            if closed is None:
                await reply(interaction, ALREADY_CLOSED)
                return
            await interaction.response.edit_message(embed=render_card(closed), view=None, allowed_mentions=NO_MENTIONS)

    async def _close(self, card: Card, by: int, how: str) -> Card | None:
        """Resolve the card and show it resolved; None when it had been closed meanwhile."""
        async with self._locks[card.guild_id]:  # a signal being filed must not re-show the card as open
            closed = await self.queue.close(card.id, card.guild_id, status="resolved", by=by, how=how)
            if closed is not None:
                await self._quietly(self._edit(closed), f"review card {card.id}: could not edit it")
        return closed

    async def _save_faq(self, interaction: discord.Interaction, draft: FaqDraft, *, card: Card) -> None:
        """Save the entry (its rules are the FAQ's: curation.faq.validate_faq), close the card, answer the
        askers still waiting in an open thread, and tell the moderator."""
        if not await self._allowed(interaction, "faq"):
            return
        entry = await self.bot.db.add_faq(card.guild_id, draft.question, draft.answer, author_id=interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)  # posting in threads may take a moment
        closed = await self._close(card, interaction.user.id, f"wrote FAQ entry #{entry.id}")
        notes = [saved_text(entry)]
        if closed is None:
            notes.append(f"{CLOSED_MEANWHILE} The entry is saved all the same.")
        elif answered := await self._post_faq(closed, entry):
            notes.append(f"Posted the answer in {_threads(answered)}.")
        await reply(interaction, "\n".join(notes))

    async def _add_source(self, interaction: discord.Interaction, url: str, *, card: Card) -> None:
        """The same path as `/sources add`; a page that was added (or re-read) resolves the card, and the
        question is answered again where it was asked, in threads still open."""
        if not await self._allowed(interaction, "source"):
            return
        change = await add_web_page(self.bot, interaction, url)
        notes = [render_source_change(change)]
        if change.outcome in ("added", "updated"):
            how = f"added the source {source_link(change.title or url, url)}"
            closed = await self._close(card, interaction.user.id, how)
            if closed is None:
                notes.append(CLOSED_MEANWHILE)
            elif answered := await self._answer_again(closed):
                notes.append(f"Answered the question again in {_threads(answered)}.")
        await reply(interaction, "\n".join(notes))

    def _open_threads(self, card: Card) -> list[tuple[discord.Thread, Place]]:
        """The threads and forum posts the card's question was asked in that are still open, with where."""
        found: dict[int, tuple[discord.Thread, Place]] = {}
        for place in card.places:
            thread = self.bot.get_channel(place.channel_id)
            if isinstance(thread, discord.Thread) and not (thread.archived or thread.locked):
                found.setdefault(thread.id, (thread, place))
        return list(found.values())

    async def _post_faq(self, card: Card, entry: FaqRecord) -> int:
        answer = Answer(entry.answer, entry.citations, bool(entry.citations), False, "faq", faq_id=entry.id)
        rendered = render_answer(answer)
        posted = 0
        for thread, _ in self._open_threads(card):
            posted += await self._quietly(_post(thread, rendered.messages, rendered.embed), f"thread {thread.id}")
        return posted

    async def _answer_again(self, card: Card) -> int:
        """The question asked anew in each open thread, through the ask cog's one answer path (answer slots,
        shutdown grace; a question still refused opens a new card), as if its asker had asked it there."""
        ask: AskCog | None = self.bot.get_cog("AskCog")  # type: ignore[assignment]
        if ask is None:
            return 0
        answered = 0
        for thread, place in self._open_threads(card):
            # Under the message it was asked at; else under the post's opening message (whose id is the thread's).
            asked_at = place.message_id if place.message_id is not None else thread.id
            reference = discord.MessageReference(message_id=asked_at, channel_id=thread.id, fail_if_not_exists=False)
            asker = Asker(place.user_id, card.guild_id, thread.id, "thread")
            answer = await ask.answer(card.question, [], MessageTarget(thread, reference), asker)
            answered += answer is not None
        return answered

    @staticmethod
    async def _quietly(work: Awaitable[bool | None], what: str) -> bool:
        """Run a Discord call whose failure must not undo what was saved: logged, False."""
        try:
            return await work is not False
        except discord.HTTPException as exc:
            log.info("%s: %s", what, exc)
            return False


def _threads(n: int) -> str:
    return f"{n} open thread{'s' if n != 1 else ''}"


async def _post(thread: discord.Thread, pieces: tuple[str, ...], embed: discord.Embed | None) -> None:
    for i, piece in enumerate(pieces, 1):
        final = embed if i == len(pieces) and embed is not None else discord.utils.MISSING
        await thread.send(piece, embed=final, allowed_mentions=NO_MENTIONS)
