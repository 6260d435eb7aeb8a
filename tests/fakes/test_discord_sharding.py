"""The fake routes guilds to shards as Discord does, for the REAL discord.py AutoShardedClient: two clients, each
running one of two shards (as two bot processes would), see only their own guilds and their guilds' messages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord

from fakes.discord_protocol import shard_for
from fakes.discord_server import FakeDiscord


class Listener(discord.AutoShardedClient):
    """A sharded client that keeps what reached it."""

    def __init__(self, **options: object) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0.1, **options)  # type: ignore[arg-type]
        self.seen: list[str] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s pause between one process's shards: Discord's identify rate limit is not the fake's."""

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message.content)


@contextlib.asynccontextmanager
async def running(client: Listener) -> AsyncIterator[Listener]:
    await client.login("fake-token")
    task = asyncio.create_task(client.connect(reconnect=False))
    try:
        async with asyncio.timeout(10):
            await client.wait_until_ready()
        yield client
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)


def test_the_documented_formula() -> None:
    guild = 175928847299117063  # Discord's documentation example: (id >> 22) % 2
    assert shard_for(guild, 2) == (175928847299117063 >> 22) % 2 and shard_for(None, 4) == 0


async def test_each_shard_sees_only_its_guilds() -> None:
    async with FakeDiscord(shard_count=2) as fake:
        first = fake.add_guild("Shard zero", shard=(0, 2))
        second = fake.add_guild("Shard one", shard=(1, 2))
        channels = {g: fake.add_text_channel(g, "general") for g in (first, second)}
        for guild in (first, second):
            fake.add_member(guild, fake.user_id)
        with fake.patch_discord():
            async with (
                running(Listener(shard_count=2, shard_ids=[0])) as zero,
                running(Listener(shard_count=2, shard_ids=[1])) as one,
            ):
                await fake.wait_for_shards({0, 1})
                assert first in {g.id for g in zero.guilds} and second not in {g.id for g in zero.guilds}
                assert second in {g.id for g in one.guilds} and first not in {g.id for g in one.guilds}
                assert {g.id for g in zero.guilds}.isdisjoint(g.id for g in one.guilds)
                await fake.send_message(channels[first], "to shard zero")
                await fake.send_message(channels[second], "to shard one")
                async with asyncio.timeout(5):
                    while not (zero.seen and one.seen):
                        await asyncio.sleep(0.05)
                await asyncio.sleep(0.2)  # a misrouted copy would have arrived by now
                assert zero.seen == ["to shard zero"] and one.seen == ["to shard one"]
        identified = sorted(tuple(p["shard"]) for p in fake.identify_payloads)
        assert identified == [(0, 2), (1, 2)]


async def test_an_auto_sharded_client_runs_the_recommended_count() -> None:
    async with FakeDiscord(shard_count=2) as fake:
        with fake.patch_discord():
            async with running(Listener()) as client:
                assert client.shard_count == 2 and sorted(client.shards) == [0, 1]
                assert fake.guild_id in {g.id for g in client.guilds}  # from whichever shard serves it
