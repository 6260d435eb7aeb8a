"""Insight and the corpus: /stats for moderators, /sources for everyone, /reindex for administrators."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.admin_rendering import render_reindex, render_sources_page, render_stats
from bot.delivery import NO_MENTIONS
from bot.paging import PER_PAGE, Page, clamp_page, edit_page, page_count, send_page
from bot.permissions import NOT_ADMINISTRATOR, NOT_MODERATOR, is_administrator, is_moderator
from bot.replies import reply, report_error
from curation.chart import FILENAME, chart_title, render_png
from rag.budget import day_start, spend_text

if TYPE_CHECKING:
    from bot.client import RagBot

log = logging.getLogger(__name__)
REINDEX_RUNNING = "A reindex is already running; its report will appear where it was started."


class AdminCog(commands.Cog, name="Admin"):
    page_kind = "sources"

    def __init__(self, bot: RagBot) -> None:
        self.bot = bot
        self._reindexing = asyncio.Lock()

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error, logged=True)  # the command tree logs it

    @app_commands.command(
        name="stats", description="Moderators: questions, refusals, votes and speed of recent answers."
    )
    @app_commands.describe(days="How many days back to look (default 7)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    async def stats(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 365] = 7) -> None:
        if not is_moderator(interaction, self.bot.config):
            await reply(interaction, NOT_MODERATOR)
            return
        assert interaction.guild_id is not None
        # The chart takes a moment (matplotlib's first import, then drawing): more than Discord's 3 s at worst.
        await interaction.response.defer(ephemeral=True, thinking=True)
        since = datetime.now(UTC) - timedelta(days=days)
        stats = await self.bot.db.stats(interaction.guild_id, since)
        today = await self.bot.db.tokens_since(interaction.guild_id, day_start())
        spend = spend_text(today, self.bot.service.llm.daily_tokens_per_guild)
        text = render_stats(stats, days, spend=spend)
        guild = interaction.guild.name if interaction.guild is not None else None
        try:
            png = await asyncio.to_thread(render_png, stats, chart_title(days, guild))  # drawing blocks
        except Exception:  # the numbers matter more than the picture: they are sent without it
            log.exception("drawing the /stats chart failed")
            await reply(interaction, text)
            return
        chart = discord.File(io.BytesIO(png), filename=FILENAME, description="Questions per day by outcome; votes")
        await interaction.followup.send(text, file=chart, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="sources", description="The sources the bot answers from, with their dates.")
    @app_commands.describe(page="Which page to show (default: the first)")
    @app_commands.guild_only()
    async def sources(self, interaction: discord.Interaction, page: app_commands.Range[int, 1] = 1) -> None:
        await send_page(interaction, await self._page(page))

    async def turn_page(self, interaction: discord.Interaction, number: int) -> None:
        """A Previous / Next click under the list of sources."""
        await edit_page(interaction, await self._page(number))

    async def _page(self, number: int) -> Page:
        docs = await self.bot.service.sources()
        pages = page_count(len(docs))
        number = clamp_page(number, pages)
        shown = docs[(number - 1) * PER_PAGE : number * PER_PAGE]
        return Page(self.page_kind, render_sources_page(shown, number, pages, len(docs)), number, pages)

    @app_commands.command(name="reindex", description="Administrators: index new and changed source files now.")
    @app_commands.guild_only()
    @app_commands.default_permissions(administrator=True)
    async def reindex(self, interaction: discord.Interaction) -> None:
        if not is_administrator(interaction):
            await reply(interaction, NOT_ADMINISTRATOR)
            return
        if self._reindexing.locked():
            await reply(interaction, REINDEX_RUNNING)
            return
        async with self._reindexing:
            await interaction.response.defer(ephemeral=True, thinking=True)  # embedding can take minutes
            # A worker thread: chroma and the embedding model block, and the gateway heartbeat must not.
            report = await asyncio.to_thread(self.bot.service.ingest_sync)
            log.warning("reindex by %s in guild %s: %s", interaction.user.id, interaction.guild_id, report.summary())
            await reply(interaction, render_reindex(report))
