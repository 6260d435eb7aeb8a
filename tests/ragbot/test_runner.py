"""`ragbot run`: start-up errors, sharding, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.discord_server import FakeDiscord
from helpers import SettingsFactory

from bot.client import ShardedRagBot
from rag.errors import ConfigError
from ragbot.runner import run_bot


def test_missing_token_is_one_clear_line(tmp_path: Path, model_dir: Path, article_corpus: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")} | {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),
        "RAGBOT_CORPUS_DIR": str(article_corpus),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
    }
    ragbot = str(Path(sys.executable).with_name("ragbot"))
    result = subprocess.run([ragbot, "run"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: RAGBOT_DISCORD__TOKEN: not set (the bot token from the Discord developer portal)"
    )


async def test_rejected_token(make_settings: SettingsFactory, article_corpus: Path) -> None:
    async with FakeDiscord(token="the-real-token") as fake:
        with fake.patch_discord():
            settings = make_settings(discord={"token": "a-wrong-token"})
            with pytest.raises(ConfigError, match="Discord rejected the token"):
                await run_bot(settings)


async def test_sharded_bot_serves_and_sigterm_stops_it(make_settings: SettingsFactory, article_corpus: Path) -> None:
    async with FakeDiscord() as fake:
        with fake.patch_discord():
            settings = make_settings(discord={"token": "t", "shards": "auto", "guild_ids": [fake.guild_id]})
            runner = asyncio.create_task(run_bot(settings))
            await fake.wait_until_connected(timeout=60)
            await fake.wait_for_call(lambda c: c.method == "PUT" and c.path.endswith("/commands"), 30)
            assert fake.calls_to("GET", "/gateway/bot")  # the sharded client asks how many shards to run
            ix = await fake.slash_command("ask", {"question": "Who founded DeepSeek?"})
            await fake.wait_for_call(
                lambda c: c.method == "PATCH" and ix.token in c.path and "embeds" in (c.json or {}), 30
            )
            assert "Liang Wenfeng" in (fake.interaction_outcome(ix).content or "")
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(runner, 30)  # returned: a clean stop, no exception


def test_shards_setting_picks_the_sharded_bot(make_settings: SettingsFactory) -> None:
    from bot.client import create_bot

    settings = make_settings(discord={"shards": "2"})
    bot = create_bot(service=None, config=settings.discord, db=None)  # type: ignore[arg-type]
    assert isinstance(bot, ShardedRagBot) and bot.shard_count == 2
    with pytest.raises(Exception, match="shards must be 'auto' or a positive number"):
        make_settings(discord={"shards": "many"})
