"""`ragbot run`: start-up errors, sharding, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from fakes.discord_server import FakeDiscord
from helpers import SettingsFactory, run_ragbot

from bot.client import ShardedRagBot
from rag.errors import ConfigError
from ragbot.runner import run_bot


def test_missing_token_is_one_clear_line(tmp_path: Path, model_dir: Path, article_corpus: Path) -> None:
    env = {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),
        "RAGBOT_CORPUS_DIR": str(article_corpus),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
    }
    result = run_ragbot(["run"], env, tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: RAGBOT_DISCORD__TOKEN: not set (the bot token from the Discord developer portal)"
    )


@pytest.mark.usefixtures("indexed_article")
async def test_rejected_token(make_settings: SettingsFactory) -> None:
    async with FakeDiscord(token="the-real-token") as fake:
        with fake.patch_discord():
            settings = make_settings(discord={"token": "a-wrong-token"})
            with pytest.raises(ConfigError, match="Discord rejected the token"):
                await run_bot(settings)


@pytest.mark.usefixtures("indexed_article")
async def test_sharded_bot_serves_and_sigterm_stops_it(make_settings: SettingsFactory) -> None:
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


def test_shard_ids_run_a_range_of_shards(make_settings: SettingsFactory) -> None:
    from bot.client import create_bot

    settings = make_settings(discord={"shard_count": 4, "shard_ids": [3, 2]})
    bot = create_bot(service=None, config=settings.discord, db=None)  # type: ignore[arg-type]
    assert isinstance(bot, ShardedRagBot) and bot.shard_count == 4 and bot.shard_ids == [2, 3]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"RAGBOT_DISCORD__SHARD_COUNT": "2", "RAGBOT_DISCORD__SHARD_IDS": "[0, 2]"},
            "RAGBOT_DISCORD__SHARD_IDS: shard 2 does not exist: with 2 shards the ids run from 0 to 1",
        ),
        (
            {"RAGBOT_DISCORD__SHARD_IDS": "[1]"},
            "RAGBOT_DISCORD__SHARD_IDS: needs RAGBOT_DISCORD__SHARD_COUNT, the total number of shards across all"
            " processes",
        ),
        (
            {"RAGBOT_DISCORD__SHARD_COUNT": "2", "RAGBOT_DISCORD__SHARD_IDS": "[1, 1]"},
            "RAGBOT_DISCORD__SHARD_IDS: names a shard twice",
        ),
        (
            {"RAGBOT_DISCORD__SHARD_COUNT": "0"},
            "RAGBOT_DISCORD__SHARD_COUNT: Input should be greater than or equal to 1 (got '0')",
        ),
    ],
)
def test_bad_shard_settings_are_one_clear_line(
    variables: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rag.config import load_settings

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None, data_dir=tmp_path)
    assert str(refused.value) == message
