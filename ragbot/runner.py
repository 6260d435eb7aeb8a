"""`ragbot run`: opens the app (database and service) through the wiring, starts the bot with its
dependencies passed keyword-only, and shuts down cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

import discord

from bot.client import create_bot
from rag.errors import ConfigError
from ragbot.wiring import open_app

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)


async def run_bot(settings: Settings) -> None:
    token = settings.discord.token
    if token is None or not token.get_secret_value().strip():
        raise ConfigError("RAGBOT_DISCORD__TOKEN: not set (the bot token from the Discord developer portal)")
    async with open_app(settings) as app:
        report = await app.service.prepare()
        if report is not None:
            log.warning("indexed the corpus: %s", report.summary())
        bot = create_bot(service=app.service, config=settings.discord, db=app.db)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
        try:
            async with bot:
                await bot.start(token.get_secret_value())
        except discord.LoginFailure:
            raise ConfigError("RAGBOT_DISCORD__TOKEN: Discord rejected the token") from None
        except discord.PrivilegedIntentsRequired:
            raise ConfigError(
                "the Message Content intent is not enabled for this bot: enable it in the developer portal"
                " (Bot > Privileged Gateway Intents) or set RAGBOT_DISCORD__MESSAGE_CONTENT=false"
            ) from None
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
