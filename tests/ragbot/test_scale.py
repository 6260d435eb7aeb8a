"""Two `ragbot run` processes, one shard each, sharing one index: PostgreSQL (the catalog, the lock, the FAQ
database) and a real `chroma run` server, with the loopback Discord routing each server to its shard's process and
the loopback model server answering. What users see: each process answers in its own shard's server; a /reindex in
one shows in the other's next answer; a process killed with SIGKILL in the middle of an answer and of an ingest
leaves the other answering from a complete index, and its half-done ingest is never seen."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import psycopg
from fakes.discord_protocol import ADMINISTRATOR
from fakes.discord_server import FakeDiscord, SentInteraction
from fakes.openai_server import FakeOpenAI, quote_sources
from helpers import REPO, ragbot_command
from prometheus_client.parser import text_string_to_metric_families
from shared_index import catalog_url, chroma_from_index, free_port, postgres_url

from rag.stores.catalog_sql import POLL_SECONDS

__all__ = ["chroma_from_index", "postgres_url"]  # fixtures, used by name

HOOK = REPO / "tests" / "fakes" / "subprocess_hook"  # sitecustomize: discord.py talks to the loopback Discord
FOUNDER = "Who founded DeepSeek?"
KEEPER = "Who keeps the lighthouse of the scale test?"
NOTE = """---
title: "Scale test note: the lighthouse keeper"
kind: brief
publisher: ragbot tests
published: 2026-11-30
---

# The lighthouse of the scale test

The lighthouse of the scale test is kept by {keeper}, who has kept the lighthouse since the scale test began.
"""


class Shard:
    """One `ragbot run` process serving one shard of two."""

    def __init__(self, shard_id: int, env: dict[str, str], folder: Path) -> None:
        self.id = shard_id
        self.metrics_port = free_port()
        self.log_path = folder / f"shard-{shard_id}.log"
        full = env | {
            "RAGBOT_DATA_DIR": str(folder / f"data-{shard_id}"),  # each host has its own disk
            "RAGBOT_DISCORD__SHARD_IDS": f"[{shard_id}]",
            "RAGBOT_METRICS__PORT": str(self.metrics_port),
        }
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen([ragbot_command(), "run"], env=full, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    async def answered(self, outcome: str = "answered") -> float:
        """Slash questions this process counted with `outcome`, from its /metrics."""
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{self.metrics_port}/metrics") as got:
            body = await got.text()
        return sum(
            sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
            if sample.name == "ragbot_questions_total" and sample.labels == {"outcome": outcome, "entry": "slash"}
        )

    async def counted(self, expected: float, outcome: str = "answered", timeout: float = 15) -> float:
        """`answered`, once it reaches `expected` or `timeout` passes: the count is taken after the answer's last
        edit, so a reader who has just seen the answer may be a moment ahead of it."""
        deadline = time.monotonic() + timeout
        while (value := await self.answered(outcome)) != expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return value

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def shards(env: dict[str, str], folder: Path, discord: FakeDiscord) -> AsyncIterator[list[Shard]]:
    started = [Shard(i, env, folder) for i in (0, 1)]
    try:
        deadline = time.monotonic() + 180
        while not ({0, 1} <= discord.connected_shards and {"ask", "reindex"} <= _commands(discord)):
            for shard in started:
                assert shard.proc.poll() is None, f"shard {shard.id} exited:\n{shard.log()}"
            assert time.monotonic() < deadline, "\n".join(s.log() for s in started)
            await asyncio.sleep(0.2)
        yield started
    finally:
        for shard in started:
            shard.stop()


def _commands(discord: FakeDiscord) -> set[str]:
    return {c["name"] for c in discord.commands()}


async def settled(discord: FakeDiscord, ix: SentInteraction, done: Callable[[str], bool], timeout: float = 60) -> str:
    """Everything the user was shown for the interaction, once `done` holds for it."""

    def shown() -> str:
        outcome = discord.interaction_outcome(ix)
        parts = [outcome.content or "", *(m["content"] for m in outcome.followups)]
        parts += [str(e.get("description", "")) for e in outcome.embeds]
        return "\n".join(parts)

    def finished() -> bool:
        outcome = discord.interaction_outcome(ix)
        return outcome.message is not None and not outcome.loading and done(shown())

    try:
        await discord.wait_for_call(lambda _call: finished(), timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nshown: {shown()!r}") from None
    return shown()


async def ask(discord: FakeDiscord, channel: int, question: str, expect: str) -> str:
    ix = await discord.slash_command("ask", {"question": question}, channel_id=channel)
    return await settled(discord, ix, lambda text: expect in text)


async def reindex(discord: FakeDiscord, channel: int, admin: int, expect: str) -> str:
    ix = await discord.slash_command("reindex", channel_id=channel, user_id=admin)
    return await settled(discord, ix, lambda text: expect in text, timeout=120)


def _catalog_state(url: str) -> tuple[int, list[str], int]:
    """(live generation, its documents, drafts left) as the database holds them."""
    with psycopg.connect(catalog_url(url)) as db:
        live = db.execute("SELECT generation FROM rag_catalog_generations WHERE status = 'live'").fetchone()
        assert live is not None
        documents = db.execute(
            "SELECT source_id FROM rag_catalog_documents WHERE generation = %s ORDER BY source_id", (live[0],)
        ).fetchall()
        drafts = db.execute("SELECT COUNT(*) FROM rag_catalog_generations WHERE status = 'draft'").fetchone()
    assert drafts is not None
    return int(live[0]), [d[0] for d in documents], int(drafts[0])


async def _wait_for_draft(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _catalog_state(url)[2] == 0:
        assert time.monotonic() < deadline, "the ingest never started its draft"
        await asyncio.sleep(0.05)


async def test_two_sharded_processes_share_one_index(
    tmp_path: Path,
    corpus_copy: Path,
    model_dir: Path,
    postgres_url: str,
    chroma_from_index: tuple[subprocess.Popen[bytes], int],
    _corpus_index: Path,
) -> None:
    chroma, chroma_port = chroma_from_index
    for shard_id in (0, 1):  # each host's own disk holds the sentence vectors it kept from answering before
        shutil.copytree(_corpus_index / "sentences", tmp_path / f"data-{shard_id}" / "sentences", copy_function=os.link)
    async with FakeDiscord(shard_count=2, interaction_ack_timeout=15) as discord, FakeOpenAI() as model:
        model.responder = quote_sources  # answers quote the opening sentence of the first sources, cited
        guilds = [discord.add_guild(f"Server {i}", shard=(i, 2)) for i in (0, 1)]
        channels = [discord.add_text_channel(g, "questions") for g in guilds]
        admins = []
        for guild in guilds:
            discord.add_member(guild, discord.user_id)
            admins.append(discord.add_user(f"admin-{guild}"))
            discord.add_member(guild, admins[-1], roles=[discord.add_role(guild, "admins", ADMINISTRATOR)])
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")} | {
            "PYTHONPATH": str(HOOK),
            "FAKE_DISCORD_API": discord.api_base,
            "FAKE_DISCORD_GATEWAY": discord.ws_url,
            "RAGBOT_DISCORD__TOKEN": "fake-token",
            "RAGBOT_DISCORD__SHARD_COUNT": "2",
            "RAGBOT_DATABASE__URL": postgres_url,
            "RAGBOT_CHROMA__HOST": "127.0.0.1",
            "RAGBOT_CHROMA__PORT": str(chroma_port),
            "RAGBOT_CORPUS_DIR": str(corpus_copy),
            "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
            "RAGBOT_LLM__PROVIDER": "custom",
            "RAGBOT_LLM__BASE_URL": model.base_url,
            "RAGBOT_LLM__MODEL": "fake-chat",
            "RAGBOT_LLM__MAX_RETRIES": "0",
        }
        # Both start on an empty shared catalog: one indexes the corpus, the other waits for its generation.
        async with shards(env, tmp_path, discord) as (zero, one):
            # Each process answers in the server its shard serves, and only there.
            answers = await asyncio.gather(*(ask(discord, c, FOUNDER, "Liang Wenfeng") for c in channels))
            assert all("Liang Wenfeng" in a for a in answers)
            assert (await zero.counted(1), await one.counted(1)) == (1, 1)

            # A /reindex in server 0 (process 0) is visible in process 1's next answer, without a restart.
            note = corpus_copy / "briefs" / "scale-test-note.md"
            note.write_text(NOTE.format(keeper="Zebulon Quarry"), encoding="utf-8")
            assert "1 added" in await reindex(discord, channels[0], admins[0], "Reindexed")
            await asyncio.sleep(POLL_SECONDS + 0.5)  # process 1 asks which generation is live at most this often
            assert "Zebulon Quarry" in await ask(discord, channels[1], KEEPER, "Zebulon Quarry")
            before = _catalog_state(postgres_url)
            assert "briefs/scale-test-note" in before[1] and before[2] == 0

            # Process 1 is killed in the middle of an answer and of an ingest (held up where it writes vectors).
            model.enqueue_reply("DeepSeek was founded by Liang Wenfeng [1], as this slow answer says.", chunk_delay=2.0)
            asked = len(model.chat_requests)
            slow = await discord.slash_command("ask", {"question": FOUNDER}, channel_id=channels[1])
            await discord.wait_for_call(lambda _c: len(model.chat_requests) > asked, 30)  # the slow reply streams
            note.write_text(NOTE.format(keeper="Ada Lantern"), encoding="utf-8")
            chroma.send_signal(signal.SIGSTOP)
            try:
                await discord.slash_command("reindex", channel_id=channels[1], user_id=admins[1])
                await _wait_for_draft(postgres_url)
                # A second writer is refused at once, told who writes and since when.
                refused = await reindex(discord, channels[0], admins[0], "another ingest is running")
                assert f"process {one.proc.pid} on" in refused and "try again when it is done" in refused
                one.proc.kill()
                one.proc.wait(timeout=10)
            finally:
                chroma.send_signal(signal.SIGCONT)
            cut = discord.interaction_outcome(slow)
            assert "this slow answer says" not in (cut.content or "") and not cut.embeds  # it never finished

            # Nothing half-written is live: the generation before the kill, complete; the other process answers.
            assert _catalog_state(postgres_url)[:2] == before[:2]
            assert "Zebulon Quarry" in await ask(discord, channels[0], KEEPER, "Zebulon Quarry")
            # The dead writer's lock went with its connection; the next ingest drops its draft and goes live.
            assert "1 updated" in await reindex(discord, channels[0], admins[0], "Reindexed")
            assert "Ada Lantern" in await ask(discord, channels[0], KEEPER, "Ada Lantern")
            after = _catalog_state(postgres_url)
            assert after[0] > before[0] and after[1] == before[1] and after[2] == 0
            assert await zero.counted(3) == 3  # the founder, then the keeper before and after the reindex
