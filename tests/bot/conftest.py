"""The real bot, the real service and the real discord.py client, against a loopback Discord and model server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes.discord_protocol import ADMINISTRATOR, MANAGE_MESSAGES
from fakes.discord_server import FakeDiscord, InteractionOutcome, SentInteraction
from fakes.openai_server import FakeOpenAI

from bot.client import RagBot, create_bot
from curation.db import Database
from curation.faq import FaqBook
from rag.config import Settings
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

    def add_member_with(self, name: str, permissions: int, guild_id: int | None = None) -> int:
        """A new user in the guild (default: the main one) holding a role with these permissions."""
        guild_id = guild_id or self.discord.guild_id
        role = self.discord.add_role(guild_id, f"{name}-role", permissions)
        user = self.discord.add_user(name)
        self.discord.add_member(guild_id, user, roles=[role])
        return user

    def add_moderator(self, guild_id: int | None = None) -> int:
        """A member with Manage Messages (the default user has only @everyone's permissions)."""
        return self.add_member_with("mod", MANAGE_MESSAGES, guild_id)

    def add_administrator(self, guild_id: int | None = None) -> int:
        return self.add_member_with("admin", ADMINISTRATOR, guild_id)

    async def settled(self, ix: SentInteraction, timeout: float = 10) -> InteractionOutcome:
        """What the user sees once the bot answered the interaction: a modal, a message, or an update (a defer
        counts once its first followup has replaced "thinking…")."""

        def done() -> bool:
            outcome = self.discord.interaction_outcome(ix)
            shown = outcome.modal is not None or (outcome.message is not None and not outcome.loading)
            return outcome.acknowledged and shown

        await self.discord.wait_for_call(lambda _call: done(), timeout)
        return self.discord.interaction_outcome(ix)

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

    async def make(
        *,
        model: bool = True,
        setup: Callable[[FakeDiscord], dict[str, Any]] | None = None,
        llm_options: dict[str, Any] | None = None,
        **discord: Any,
    ) -> Harness:
        """`setup` shapes the fake world before the bot connects (a second guild, a role) and returns
        settings that depend on it (guild_ids, moderator_role_ids); `llm_options` adds RAGBOT_LLM__* settings."""
        fake_discord = await stack.enter_async_context(FakeDiscord())
        stack.enter_context(fake_discord.patch_discord())
        fake_model = await stack.enter_async_context(FakeOpenAI())
        llm = {"provider": "custom", "base_url": fake_model.base_url, "model": "fake-chat", "max_retries": 1}
        llm |= llm_options or {}
        options = {"guild_ids": [fake_discord.guild_id], "cooldown_questions": 50, "edit_interval": 0.3} | discord
        if setup is not None:
            options |= setup(fake_discord)
        settings = make_settings(llm=llm if model else {}, discord=options)
        db = await Database.open(f"sqlite+aiosqlite:///{tmp_path / f'ragbot-{len(made)}.sqlite3'}")
        faqs = FaqBook(db, embedder, settings.faq.threshold)
        service = build_service(settings, embedder=embedder, faqs=faqs, spend=db)  # as ragbot.wiring does
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
