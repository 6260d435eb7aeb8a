"""The bot under test and what a test holds of it: the real bot and service against a loopback Discord and a
loopback model server. `harness_factory` (tests/bot/conftest.py) builds them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fakes.discord_protocol import ADMINISTRATOR, MANAGE_MESSAGES
from fakes.discord_server import FakeDiscord, InteractionOutcome, SentInteraction
from fakes.openai_server import FakeOpenAI

from bot.client import RagBot, create_bot
from curation.db import Database
from rag.config import Settings
from rag.service import RagService


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


class HarnessFactory(Protocol):
    """`await harness_factory(...)`: a started bot. `setup` shapes the fake world before the bot connects (a second
    guild, a role) and returns settings that depend on it (guild_ids, moderator_role_ids); the other keywords are
    Discord settings."""

    async def __call__(
        self, *, model: bool = True, setup: Callable[[FakeDiscord], dict[str, Any]] | None = None, **discord: Any
    ) -> Harness: ...
