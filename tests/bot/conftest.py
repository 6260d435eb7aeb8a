"""The real bot, the real service and the real discord.py client, against a loopback Discord and model server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes.discord_server import FakeDiscord
from fakes.openai_server import FakeOpenAI

from bot.client import RagBot, create_bot
from rag.config import Settings
from rag.db import Database
from rag.embeddings.onnx import OnnxEmbedder
from rag.service import RagService, build_service


@dataclass
class Harness:
    discord: FakeDiscord
    model: FakeOpenAI
    settings: Settings
    service: RagService
    db: Database
    bot: RagBot | None = None
    task: asyncio.Task[None] | None = None

    async def start(self) -> RagBot:
        """A bot process: login, gateway connection, command sync."""
        bot = create_bot(service=self.service, config=self.settings.discord, db=self.db, guild_ready_timeout=0.1)
        await bot.login("fake-token")
        self.task = asyncio.create_task(bot.connect(reconnect=False))
        async with asyncio.timeout(10):
            await bot.wait_until_ready()
        self.bot = bot
        return bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.close()
            if self.task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.task, 10)
            self.bot = None


@pytest.fixture
async def harness_factory(
    make_settings: Callable[..., Settings], article_corpus: Path, embedder: OnnxEmbedder, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    made: list[Harness] = []
    stack = contextlib.AsyncExitStack()

    async def make(*, model: bool = True, **discord: Any) -> Harness:
        fake_discord = await stack.enter_async_context(FakeDiscord())
        stack.enter_context(fake_discord.patch_discord())
        fake_model = await stack.enter_async_context(FakeOpenAI())
        llm = {"provider": "custom", "base_url": fake_model.base_url, "model": "fake-chat", "max_retries": 1}
        options = {"guild_ids": [fake_discord.guild_id], "cooldown_questions": 50, "edit_interval": 0.3} | discord
        settings = make_settings(llm=llm if model else {}, discord=options)
        db = await Database.open(f"sqlite+aiosqlite:///{tmp_path / f'ragbot-{len(made)}.sqlite3'}")
        service = build_service(settings, embedder=embedder, faqs=db)
        service.prepare_sync()
        harness = Harness(fake_discord, fake_model, settings, service, db)
        made.append(harness)
        await harness.start()
        return harness

    try:
        yield make
    finally:
        for harness in made:
            await harness.stop()
            await harness.service.aclose()
            await harness.db.close()
        await stack.aclose()
