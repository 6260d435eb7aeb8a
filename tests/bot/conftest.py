"""The real bot, the real service and the real discord.py client, against a loopback Discord and model server."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fakes.discord_server import FakeDiscord
from fakes.openai_server import FakeOpenAI
from harness import Harness, HarnessFactory
from helpers import built_once

from curation.db import Database
from curation.faq import FaqBook
from rag.config import Settings
from rag.embeddings import Embedder
from rag.service import build_service


@pytest.fixture(scope="session")
def _migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file as the app's first start leaves it (every migration run, nothing stored), made once per run:
    each bot copies it instead of running the migrations again (~20 ms of CPU; tests/curation test the migrations)."""

    def build(root: Path) -> None:
        async def migrate() -> None:
            await (await Database.open(f"sqlite+aiosqlite:///{root / 'ragbot.sqlite3'}")).close()

        asyncio.run(migrate())

    return built_once(tmp_path_factory, "migrated-database", build) / "ragbot.sqlite3"


@pytest.fixture
async def harness_factory(
    make_settings: Callable[..., Settings],
    indexed_article: Path,
    embedder: Embedder,
    tmp_path: Path,
    _migrated_database: Path,
) -> AsyncIterator[HarnessFactory]:
    made: list[Harness] = []
    stack = contextlib.AsyncExitStack()

    async def make(
        *,
        model: bool = True,
        setup: Callable[[FakeDiscord], dict[str, Any]] | None = None,
        llm_options: dict[str, Any] | None = None,
        ingest_options: dict[str, Any] | None = None,
        **discord: Any,
    ) -> Harness:
        """`setup` shapes the fake world before the bot connects (a second guild, a role) and returns
        settings that depend on it (guild_ids, moderator_role_ids); `llm_options` adds RAGBOT_LLM__* settings,
        `ingest_options` RAGBOT_INGEST__* ones."""
        fake_discord = await stack.enter_async_context(FakeDiscord())
        stack.enter_context(fake_discord.patch_discord())
        fake_model = await stack.enter_async_context(FakeOpenAI())
        llm = {"provider": "custom", "base_url": fake_model.base_url, "model": "fake-chat", "max_retries": 1}
        llm |= llm_options or {}
        options = {"guild_ids": [fake_discord.guild_id], "cooldown_questions": 50, "edit_interval": 0.3} | discord
        if setup is not None:
            options |= setup(fake_discord)
        settings = make_settings(llm=llm if model else {}, discord=options, ingest=ingest_options or {})
        database_file = shutil.copy(_migrated_database, tmp_path / f"ragbot-{len(made)}.sqlite3")
        db = await Database.open(f"sqlite+aiosqlite:///{database_file}")
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
