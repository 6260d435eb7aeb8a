"""The Discord client: a commands.Bot (or AutoShardedBot) with its dependencies passed in, keyword-only."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.cogs.admin import AdminCog
from bot.cogs.ask import AskCog
from bot.cogs.faq import FaqCog
from bot.cogs.forum import ForumCog
from bot.cogs.review import ReviewCog
from bot.forum_buttons import HumanButton, SolvedButton
from bot.limits import AnswerSlots, Cooldown
from bot.paging import PageButton
from bot.views import SourcesButton, VoteButton
from rag.observe import NULL_OBSERVER

if TYPE_CHECKING:
    from curation.db import Database
    from rag.config import DiscordSettings
    from rag.observe import Observer
    from rag.service import RagService

log = logging.getLogger(__name__)


class RagBotMixin:
    """Shared by the plain and the sharded bot: wiring, start-up, and a graceful shutdown."""

    def __init__(
        self,
        *,
        service: RagService,
        config: DiscordSettings,
        db: Database,
        observer: Observer = NULL_OBSERVER,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.service = service
        self.config = config
        self.db = db
        self.observer = observer  # questions, votes and their timings (ragbot.metrics serves them)
        self.cooldown = Cooldown(config.cooldown_questions, config.cooldown_seconds)
        self.slots = AnswerSlots(config.max_concurrent, config.max_queue)
        self.in_flight: set[asyncio.Task[Any]] = set()

    async def setup_hook(self) -> None:
        bot: commands.Bot = self  # type: ignore[assignment]
        bot.add_dynamic_items(VoteButton, SourcesButton, PageButton, SolvedButton, HumanButton)
        for cog in (AskCog, FaqCog, AdminCog, ForumCog, ReviewCog):
            await bot.add_cog(cog(self))  # type: ignore[arg-type]
        if self.config.guild_ids:
            for guild_id in self.config.guild_ids:
                guild = discord.Object(id=guild_id)
                bot.tree.copy_global_to(guild=guild)
                await bot.tree.sync(guild=guild)
        else:
            await bot.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: questions are handled by the ask cog's listener."""

    async def on_ready(self) -> None:
        user = self.user  # type: ignore[attr-defined]
        log.warning("connected to Discord as %s in %d servers", user, len(self.guilds))  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Let answers in progress finish (up to the grace period); the rest are told they were cut."""
        pending = [t for t in self.in_flight if not t.done()]
        if pending:
            log.warning("waiting up to %.0f s for %d answers in progress", self.config.shutdown_grace, len(pending))
            _, late = await asyncio.wait(pending, timeout=self.config.shutdown_grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=10)
        await super().close()  # type: ignore[misc]


class RagBot(RagBotMixin, commands.Bot):
    pass


class ShardedRagBot(RagBotMixin, commands.AutoShardedBot):
    pass


def create_bot(
    *, service: RagService, config: DiscordSettings, db: Database, observer: Observer = NULL_OBSERVER, **options: Any
) -> RagBot:
    """The bot for these settings; `options` are passed to discord.py (tests set guild_ready_timeout)."""
    intents = discord.Intents.default()
    intents.message_content = config.message_content
    common: dict[str, Any] = {
        "command_prefix": commands.when_mentioned,
        "intents": intents,
        "allowed_mentions": discord.AllowedMentions.none(),  # nothing the bot sends may ping anyone
        "help_command": None,
        **options,
    }
    if config.sharding is not None:
        # discord.py's manual sharding: shard_ids need the total count, and each process connects only its own.
        count, ids = config.sharding
        sharded = ShardedRagBot(
            service=service, config=config, db=db, observer=observer, shard_count=count, shard_ids=ids, **common
        )
        return sharded  # type: ignore[return-value]
    return RagBot(service=service, config=config, db=db, observer=observer, **common)
