"""Moderator-approved answers: "Pin as FAQ" on one of the bot's answers, and /faq add, list, show, edit, remove.

Every reply is private. Permission is checked in each handler (see bot.permissions); the default permissions
registered with the commands only decide who sees them in Discord's menus."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.admin_rendering import pin_failure_text, render_faq, render_faq_page, saved_text
from bot.modals import FaqDraft, FaqModal, unknown_ids_text
from bot.paging import PER_PAGE, Page, clamp_page, edit_page, page_count, send_page
from bot.permissions import NOT_MODERATOR, is_moderator
from bot.recording import recorded_answer
from bot.replies import reply, reply_all, report_error
from bot.views import SourcesButton, VoteButton
from curation.freshness import Freshness, check, cited_sources
from rag.citations import citations_from_chunks
from rag.errors import UserFacingError

if TYPE_CHECKING:
    from bot.client import RagBot
    from curation.db.records import CitedSource, FaqRecord, StoredAnswer
    from rag.types import Citation

log = logging.getLogger(__name__)
NOT_AN_ANSWER = (
    "That message isn't one of my answers. Use **Pin as FAQ** on an answer of mine: the message with the "
    "👍 / 👎 buttons (for a long answer, its last part)."
)
ANSWER_FORGOTTEN = "I no longer have the record of that answer, so it can't be pinned. Use `/faq add` instead."
REFUSAL = "That message says my sources don't cover the question, so there is no answer to pin. Use `/faq add`."
PINNED = "The message is pinned in this channel."
_ANSWER_BUTTONS = (VoteButton, SourcesButton)


def _no_entry(faq_id: int) -> str:
    return f"This server has no FAQ entry #{faq_id}. `/faq list` shows the entries."


def answer_id_of(message: discord.Message) -> str | None:
    """The answer id carried by the buttons under one of the bot's answers (see bot.views)."""
    for row in message.components:
        for item in getattr(row, "children", [row]):
            custom_id = getattr(item, "custom_id", None) or ""
            for button in _ANSWER_BUTTONS:
                match = button.__discord_ui_compiled_template__.fullmatch(custom_id)
                if match is not None:
                    return match["id"]
    return None


@app_commands.guild_only()
@app_commands.default_permissions(manage_messages=True)
class FaqCog(
    commands.GroupCog,
    name="FAQ",
    group_name="faq",
    group_description="Moderators: the answers this server has approved, given instead of a generated one.",
):
    page_kind = "faq"

    def __init__(self, bot: RagBot) -> None:
        self.bot = bot
        # discord.py cannot declare a context menu inside a cog: it is built here and added in cog_load.
        self.pin_menu = app_commands.ContextMenu(name="Pin as FAQ", callback=self.pin_as_faq)
        app_commands.guild_only(self.pin_menu)
        app_commands.default_permissions(manage_messages=True)(self.pin_menu)
        self.pin_menu.on_error = self.cog_app_command_error  # not the cog's own

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.pin_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.pin_menu.name, type=self.pin_menu.type)

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error, logged=True)  # the command tree logs it

    async def _allowed(self, interaction: discord.Interaction) -> bool:
        """True for a moderator; anyone else is told why nothing happened."""
        if is_moderator(interaction, self.bot.config):
            return True
        await reply(interaction, NOT_MODERATOR)
        return False

    # --- Pin as FAQ -----------------------------------------------------------------------------------
    async def pin_as_faq(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Save one of the bot's answers as this server's approved answer to its question."""
        if not await self._allowed(interaction):
            return
        stored = await self._pinnable(interaction, message)
        if stored is None:
            return
        on_submit = functools.partial(self._save_pinned, message=message, stored=stored)
        modal = FaqModal(
            title="Pin as FAQ", question=stored.question, answer=stored.text, on_submit=on_submit, ask_review_by=True
        )
        await interaction.response.send_modal(modal)

    async def _pinnable(self, interaction: discord.Interaction, message: discord.Message) -> StoredAnswer | None:
        """The logged answer behind the message, or None once the moderator has been told why not."""
        bot_user = self.bot.user
        answer_id = answer_id_of(message) if bot_user is not None and message.author.id == bot_user.id else None
        if answer_id is None or interaction.guild_id is None:
            await reply(interaction, NOT_AN_ANSWER)
            return None
        stored = await recorded_answer(self.bot.db, answer_id, interaction.guild_id)
        problem = await self._pin_problem(stored, message, interaction.guild_id)
        if problem is not None:
            await reply(interaction, problem)
            return None
        return stored

    async def _pin_problem(self, stored: StoredAnswer | None, message: discord.Message, guild_id: int) -> str | None:
        if stored is None:
            return ANSWER_FORGOTTEN
        if stored.refused:
            return REFUSAL
        for entry in await self.bot.db.faqs_for_guild(guild_id):
            if entry.message_id == message.id or entry.id == stored.faq_id:
                return f"That answer already is FAQ entry #{entry.id}: change it with `/faq edit id:{entry.id}`."
        return None

    async def _save_pinned(
        self, interaction: discord.Interaction, draft: FaqDraft, *, message: discord.Message, stored: StoredAnswer
    ) -> None:
        if not await self._allowed(interaction):
            return
        assert interaction.guild_id is not None
        entry = await self.bot.db.add_faq(
            interaction.guild_id,
            draft.question,
            draft.answer,
            author_id=interaction.user.id,
            citations=stored.citations,
            channel_id=message.channel.id,
            message_id=message.id,
            review_by=draft.review_by,
            cited_sources=await self._cited_sources(stored.citations),
        )
        await interaction.response.defer(ephemeral=True, thinking=True)  # pinning may wait out a rate limit
        note = await self._pin(message, entry)
        await reply(interaction, "\n".join(x for x in (saved_text(entry), note) if x))

    async def _pin(self, message: discord.Message, entry: FaqRecord) -> str:
        """Pin the answer too. Called once the entry is saved: a failed pin is reported, never undoes it."""
        if not self.bot.config.pin_faq_messages:
            return ""
        try:
            if not message.pinned:
                await message.pin(reason=f"FAQ entry #{entry.id}")
        except discord.HTTPException as exc:
            log.info("could not pin the message of FAQ entry %d: %s", entry.id, exc)
            return pin_failure_text(exc.status, exc.code)
        await self.bot.db.set_pinned_message(entry.id, entry.guild_id, message.id)
        return PINNED

    # --- /faq -----------------------------------------------------------------------------------------
    @app_commands.command(name="add", description="Write a new approved answer (a form opens).")
    async def add(self, interaction: discord.Interaction) -> None:
        if await self._allowed(interaction):
            modal = FaqModal(title="New FAQ entry", sources="", ask_review_by=True, on_submit=self._save_new)
            await interaction.response.send_modal(modal)

    async def _save_new(self, interaction: discord.Interaction, draft: FaqDraft) -> None:
        if not await self._allowed(interaction):
            return
        assert interaction.guild_id is not None
        citations = await self._citations(draft.source_ids or (), draft.answer)
        entry = await self.bot.db.add_faq(
            interaction.guild_id,
            draft.question,
            draft.answer,
            author_id=interaction.user.id,
            citations=citations,
            channel_id=interaction.channel_id,
            review_by=draft.review_by,
            cited_sources=await self._cited_sources(citations),
        )
        await reply(interaction, saved_text(entry))

    async def _citations(self, ids: tuple[str, ...], answer: str) -> tuple[Citation, ...]:
        """Citations for the passage ids a moderator gave; UserFacingError names the ids the index lacks."""
        if not ids:
            return ()
        chunks = await self.bot.service.chunks(ids)
        unknown = [i for i in ids if i not in chunks]
        if unknown:
            raise UserFacingError(unknown_ids_text(unknown))
        return citations_from_chunks(ids, chunks, answer)

    async def _cited_sources(self, citations: Sequence[Citation]) -> tuple[CitedSource, ...]:
        """The versions of the sources the citations quote now, recorded with the entry: /faq list compares
        them with the index later and flags a source that changed or went away."""
        chunks = await self.bot.service.chunks(c.chunk_id for c in citations)
        return cited_sources(citations, chunks, await self.bot.service.sources())

    async def _freshness(self, entries: Sequence[FaqRecord]) -> dict[int, Freshness]:
        """What /faq list flags on each entry: past its review date, cited sources changed or removed."""
        docs = await self.bot.service.sources()
        live = await self.bot.service.chunks(c.chunk_id for e in entries for c in e.citations)
        today = datetime.now(UTC).date()
        return {e.id: check(e, docs, live.keys(), today) for e in entries}

    @app_commands.command(name="list", description="The approved answers, ten per page.")
    @app_commands.describe(page="Which page to show (default: the first)")
    async def list_(self, interaction: discord.Interaction, page: app_commands.Range[int, 1] = 1) -> None:
        if await self._allowed(interaction):
            await send_page(interaction, await self._page(interaction, page))

    async def turn_page(self, interaction: discord.Interaction, number: int) -> None:
        """A Previous / Next click under the list."""
        if await self._allowed(interaction):
            await edit_page(interaction, await self._page(interaction, number))

    async def _page(self, interaction: discord.Interaction, number: int) -> Page:
        assert interaction.guild_id is not None
        guild_id = interaction.guild_id
        entries, total = await self.bot.db.list_faqs(guild_id, (number - 1) * PER_PAGE, PER_PAGE)
        pages = page_count(total)
        if clamp_page(number, pages) != number:  # entries were removed since the list was shown
            number = clamp_page(number, pages)
            entries, total = await self.bot.db.list_faqs(guild_id, (number - 1) * PER_PAGE, PER_PAGE)
        rendered = render_faq_page(entries, number, pages, total, await self._freshness(entries))
        return Page(self.page_kind, rendered, number, pages)

    @app_commands.command(name="show", description="Show one approved answer with its sources.")
    @app_commands.rename(faq_id="id")
    @app_commands.describe(faq_id="The entry's number, as /faq list shows it")
    async def show(self, interaction: discord.Interaction, faq_id: int) -> None:
        entry = await self._entry(interaction, faq_id)
        if entry is not None:
            rendered = render_faq(entry)
            await reply_all(interaction, rendered.messages, rendered.embed)

    async def _entry(self, interaction: discord.Interaction, faq_id: int) -> FaqRecord | None:
        """This server's entry, if the user may curate and it exists; otherwise they are told."""
        if not await self._allowed(interaction):
            return None
        assert interaction.guild_id is not None
        entry = await self.bot.db.get_faq(faq_id, interaction.guild_id)
        if entry is None:
            await reply(interaction, _no_entry(faq_id))
        return entry

    @app_commands.command(name="edit", description="Change an approved answer (a form opens, filled in).")
    @app_commands.rename(faq_id="id")
    @app_commands.describe(faq_id="The entry's number, as /faq list shows it")
    async def edit(self, interaction: discord.Interaction, faq_id: int) -> None:
        entry = await self._entry(interaction, faq_id)
        if entry is None:
            return
        modal = FaqModal(
            title=f"Edit FAQ entry #{entry.id}",
            question=entry.question,
            answer=entry.answer,
            sources=" ".join(c.chunk_id for c in entry.citations),
            ask_review_by=True,
            review_by=entry.review_by,
            on_submit=functools.partial(self._save_edit, entry=entry),
        )
        await interaction.response.send_modal(modal)

    async def _save_edit(self, interaction: discord.Interaction, draft: FaqDraft, *, entry: FaqRecord) -> None:
        if not await self._allowed(interaction):
            return
        ids = draft.source_ids or ()
        # Unchanged ids keep their citations as stored: a reindex may have retired a passage they quote.
        same = ids == tuple(c.chunk_id for c in entry.citations)
        citations = None if same else await self._citations(ids, draft.answer)
        updated = await self.bot.db.update_faq(
            entry.id,
            entry.guild_id,
            question=draft.question,
            answer=draft.answer,
            citations=citations,
            # Saving is the moderator's check: the sources are recorded as they are now, which clears "changed".
            cited_sources=await self._cited_sources(entry.citations if citations is None else citations),
            review_by=draft.review_by,
        )
        await reply(interaction, _no_entry(entry.id) if updated is None else saved_text(updated, edited=True))

    @app_commands.command(name="remove", description="Delete an approved answer; the bot answers normally again.")
    @app_commands.rename(faq_id="id")
    @app_commands.describe(faq_id="The entry's number, as /faq list shows it")
    async def remove(self, interaction: discord.Interaction, faq_id: int) -> None:
        entry = await self._entry(interaction, faq_id)
        if entry is None:
            return
        if not await self.bot.db.remove_faq(entry.id, entry.guild_id):
            await reply(interaction, _no_entry(entry.id))
            return
        note = await self._unpin(interaction, entry)
        await reply(interaction, f"🗑️ Removed FAQ entry **#{entry.id}**.{note}")

    async def _unpin(self, interaction: discord.Interaction, entry: FaqRecord) -> str:
        """Undo the pin the entry added; best effort, the entry is gone either way."""
        if entry.pinned_message_id is None or entry.channel_id is None or interaction.guild is None:
            return ""
        channel = interaction.guild.get_channel_or_thread(entry.channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return ""
        try:
            await channel.get_partial_message(entry.pinned_message_id).unpin(reason=f"FAQ entry #{entry.id} removed")
        except discord.HTTPException as exc:
            log.info("could not unpin the message of removed FAQ entry %d: %s", entry.id, exc)
            return " I couldn't unpin its message; unpin it by hand if it should go."
        return " Its message was unpinned."
