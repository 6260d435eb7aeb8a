"""Insight and the corpus: /stats for moderators, /sources list for everyone, /sources add and remove (web pages)
and /reindex for administrators."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.admin_rendering import (
    render_refresh,
    render_reindex,
    render_source_change,
    render_sources_page,
    render_stats,
)
from bot.delivery import NO_MENTIONS
from bot.paging import PER_PAGE, Page, clamp_page, edit_page, page_count, send_page
from bot.permissions import NOT_ADMINISTRATOR, NOT_MODERATOR, is_administrator, is_moderator
from bot.replies import reply, report_error
from curation.chart import FILENAME, chart_title, render_png
from rag.budget import day_start, spend_text
from rag.url_sources import is_url_source
from rag.web import MAX_URL_CHARS

if TYPE_CHECKING:
    from bot.client import RagBot
    from rag.web_sources import SourceChange

log = logging.getLogger(__name__)
REINDEX_RUNNING = "A reindex is already running; its report will appear where it was started."


async def add_web_page(bot: RagBot, interaction: discord.Interaction, url: str) -> SourceChange:
    """What `/sources add` and a review card's "Add source" do once the administrator is checked: download and
    index the page (the reply waits meanwhile), and log who added what."""
    await interaction.response.defer(ephemeral=True, thinking=True)  # a download, then embedding
    change = await bot.service.add_url(url)
    log.warning(
        "source %s by %s in guild %s: %s", change.outcome, interaction.user.id, interaction.guild_id, change.line()
    )
    return change


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

    sources = app_commands.Group(
        name="sources",
        description="The sources the bot answers from; administrators add and remove web pages.",
        guild_only=True,
    )

    @sources.command(name="list", description="The sources the bot answers from, with their dates and origin.")
    @app_commands.describe(page="Which page to show (default: the first)")
    async def list_sources(self, interaction: discord.Interaction, page: app_commands.Range[int, 1] = 1) -> None:
        await send_page(interaction, await self._page(page))

    async def turn_page(self, interaction: discord.Interaction, number: int) -> None:
        """A Previous / Next click under the list of sources."""
        await edit_page(interaction, await self._page(number))

    async def _page(self, number: int) -> Page:
        docs = await self.bot.service.sources()
        pages = page_count(len(docs))
        number = clamp_page(number, pages)
        shown = docs[(number - 1) * PER_PAGE : number * PER_PAGE]
        from_urls = sum(is_url_source(d.source.id) for d in docs)
        text = render_sources_page(shown, number, pages, len(docs), from_urls=from_urls)
        return Page(self.page_kind, text, number, pages)

    @sources.command(name="add", description="Administrators: make a web page (HTML, PDF or plain text) a source.")
    @app_commands.describe(url="The page's address, https://…; answers will cite and link it")
    async def add_source(
        self, interaction: discord.Interaction, url: app_commands.Range[str, 1, MAX_URL_CHARS]
    ) -> None:
        if not is_administrator(interaction):
            await reply(interaction, NOT_ADMINISTRATOR)
            return
        change = await add_web_page(self.bot, interaction, url)
        await reply(interaction, render_source_change(change))

    @sources.command(name="remove", description="Administrators: stop citing a web page added with /sources add.")
    @app_commands.describe(source="The page's address, or its id as `ragbot sources` shows it")
    async def remove_source(
        self, interaction: discord.Interaction, source: app_commands.Range[str, 1, MAX_URL_CHARS]
    ) -> None:
        if not is_administrator(interaction):
            await reply(interaction, NOT_ADMINISTRATOR)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        change = await self.bot.service.remove_source(source)
        log.warning(
            "source %s by %s in guild %s: %s", change.outcome, interaction.user.id, interaction.guild_id, change.line()
        )
        await reply(interaction, render_source_change(change))

    @sources.command(name="refresh", description="Administrators: download the web pages again where they changed.")
    async def refresh_sources(self, interaction: discord.Interaction) -> None:
        if not is_administrator(interaction):
            await reply(interaction, NOT_ADMINISTRATOR)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        changes = await self.bot.service.refresh_urls()
        log.warning("web pages refreshed by %s: %s", interaction.user.id, [c.line() for c in changes])
        await reply(interaction, render_refresh(changes))

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
