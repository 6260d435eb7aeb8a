"""`ragbot run`: opens the monitoring endpoints and the app (database and service) through the wiring, starts the
bot with its dependencies passed keyword-only, and shuts down cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import discord

from bot.client import create_bot
from rag.errors import ConfigError, IngestRunning
from ragbot.metrics import Metrics
from ragbot.monitoring import Readiness, serve_monitoring
from ragbot.wiring import open_app

if TYPE_CHECKING:
    from bot.client import RagBot
    from rag.config import Settings
    from rag.ingest import IngestReport
    from rag.service import RagService

log = logging.getLogger(__name__)
_WAIT_FOR_WRITER = 3.0  # seconds between attempts while another process builds the shared index


async def run_bot(settings: Settings) -> None:
    token = settings.discord.token
    if token is None or not token.get_secret_value().strip():
        raise ConfigError("RAGBOT_DISCORD__TOKEN: not set (the bot token from the Discord developer portal)")
    metrics = Metrics.for_llm(settings.llm)
    readiness = Readiness()
    async with AsyncExitStack() as stack:
        # First, so /healthz answers and /readyz says "index not loaded" while a first ingest runs.
        await stack.enter_async_context(serve_monitoring(settings.metrics, metrics, readiness))
        app = await stack.enter_async_context(open_app(settings, observer=metrics))
        readiness.db = app.db
        report = await _prepare(app.service)
        if report is not None:
            log.warning("indexed the corpus: %s", report.summary())
        readiness.index_loaded = True
        bot = create_bot(service=app.service, config=settings.discord, db=app.db, observer=metrics)
        metrics.watch(bot)
        readiness.bot = bot
        await _serve(bot, token.get_secret_value())


async def _prepare(service: RagService) -> IngestReport | None:
    """Ingest if the index is empty. Processes sharing an index may start together: one ingests, the others
    wait for its generation to go live instead of failing (the writer lock admits one)."""
    while True:
        try:
            return await service.prepare()
        except IngestRunning as exc:
            log.warning("%s; waiting for it before answering", exc)
            await asyncio.sleep(_WAIT_FOR_WRITER)


async def _serve(bot: RagBot, token: str) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
    try:
        async with bot:
            await bot.start(token)
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
