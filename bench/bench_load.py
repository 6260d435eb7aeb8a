"""Load: the bot under bursts of 1, 10, 50 and 200 questions at once, as one process and as two (two shards).

Each bot is a real `ragbot run` (ragbot.runner.run_bot) in a process of its own, talking to the loopback Discord and
to the loopback model server (300 ms to first token) that run in this process. A task inside each bot process
samples its event-loop lag (a 5 ms timer, how late it fires) and writes the samples to a file read here. Every
question is a new text (an opening phrase joined to a dev-set question) from a user of its own, so nothing is
answered from a cache the burst itself warmed and no per-user cooldown applies.

Reported per burst: answered / told to wait / turned away / lost, wall time, throughput, p50/p95 answer time (the
/ask to the final answer on Discord), event-loop lag p50/p99, and the ratios to one question alone.

Run: python bench/bench_load.py [--processes 1,2] [--slots N]   (RAGBOT_EMBEDDING__MODEL_DIR: the model folder)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from bench_bot import LATENCY, fresh_questions, lag_monitor, model_dir, warm_sentences  # noqa: E402
from fakes.discord_server import FakeDiscord  # noqa: E402
from fakes.openai_server import FakeOpenAI, quote_sources  # noqa: E402

from bot.cogs.ask import BUSY  # noqa: E402
from rag.config import Settings  # noqa: E402

HOOK = REPO / "tests" / "fakes" / "subprocess_hook"  # sitecustomize: discord.py in a subprocess talks to the fake
BURSTS = (1, 10, 50, 200)
WAITING = "⏳ Many questions"  # how bot.limits.waiting_note starts (not imported: --before code may lack it)
STALLED = 30.0  # no question settled for this long: the unsettled ones count as lost


# ---- inside a bot process ----------------------------------------------------------------------------------------
async def _flush(samples: list[tuple[float, float]], path: Path, stop: asyncio.Event) -> None:
    written = 0
    while True:
        with path.open("a") as out:
            out.writelines(f"{t:.4f} {lag:.3f}\n" for t, lag in samples[written:])
        written = len(samples)
        if stop.is_set():
            return
        await asyncio.sleep(0.25)


async def _bot_with_lag_samples(samples_path: Path) -> None:
    from ragbot.runner import run_bot

    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    tasks = [asyncio.create_task(lag_monitor(samples, stop)), asyncio.create_task(_flush(samples, samples_path, stop))]
    try:
        await run_bot(Settings())  # the entry point's settings: from the RAGBOT_* environment this script sets
    finally:
        stop.set()
        await asyncio.gather(*tasks)


# ---- this process: the fakes, the bursts ---------------------------------------------------------------------------
@dataclass
class Burst:
    processes: int
    size: int
    sent: dict[str, float] = field(default_factory=dict)  # interaction token -> when it was sent (monotonic)
    answered: dict[str, float] = field(default_factory=dict)  # token -> when its final answer was shown
    waited: set[str] = field(default_factory=set)  # told they are queued
    turned_away: set[str] = field(default_factory=set)  # told the bot is too busy, to ask again later
    failed: set[str] = field(default_factory=set)  # any other error message
    lags: list[float] = field(default_factory=list)
    code: str = "this checkout"
    cpu: float = 0.0  # seconds of CPU the bot processes used during the burst (user + system, all threads)
    fakes_cpu: float = 0.0  # the same for this process: the loopback Discord and model server

    @property
    def settled(self) -> int:
        return len(self.answered) + len(self.turned_away) + len(self.failed)

    @property
    def lost(self) -> int:
        """Neither answered nor told anything: what a user would see as the bot ignoring them."""
        return self.size - self.settled

    @property
    def times(self) -> list[float]:
        return sorted(self.answered[t] - self.sent[t] for t in self.answered)

    @property
    def wall(self) -> float:
        return max(self.answered.values(), default=0.0) - min(self.sent.values())

    def percentile(self, values: list[float], share: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


@dataclass
class World:
    """The loopback Discord's servers (one per shard), their question channels, and the askers."""

    fake: FakeDiscord
    guilds: list[int]
    channels: list[int]
    askers: Iterator[int]  # one after the other across the whole run, so nobody meets the per-user cooldown

    @classmethod
    def build(cls, fake: FakeDiscord, shards: int, askers: int) -> World:
        guilds = [fake.add_guild(f"Load {i}", shard=(i, shards)) for i in range(shards)] if shards > 1 else []
        guilds = guilds or [fake.guild_id]
        channels = [fake.add_text_channel(g, "questions") for g in guilds]
        users = [fake.add_user(f"asker-{i}") for i in range(askers)]
        for guild, user in itertools.product(guilds, users):
            fake.add_member(guild, user)
        return cls(fake, guilds, channels, itertools.cycle(users))


def _prepare_index(work: Path) -> Path:
    """The corpus indexed once, its sentence vectors kept on disk by asking every dev-set question once."""
    from rag.service import build_service

    folder = work / "index"
    service = build_service(Settings(_env_file=None, data_dir=folder, embedding={"model_dir": model_dir()}))
    service.prepare_sync()
    warm_sentences(service)
    service.index.close()
    return folder


def _env(world: World, model: FakeOpenAI, processes: int, slots: int | None, code: Path | None) -> dict[str, str]:
    first = [str(code)] if code is not None else []  # --before: that checkout's ragbot, bot, curation and rag
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")} | {
        "PYTHONPATH": os.pathsep.join([*first, str(HOOK), str(REPO / "bench"), str(REPO / "tests")]),
        "FAKE_DISCORD_API": world.fake.api_base,
        "FAKE_DISCORD_GATEWAY": world.fake.ws_url,
        "RAGBOT_DISCORD__TOKEN": "bench-token",
        "RAGBOT_DISCORD__GUILD_IDS": str(world.guilds),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir()),
        "RAGBOT_LLM__PROVIDER": "custom",
        "RAGBOT_LLM__BASE_URL": model.base_url,
        "RAGBOT_LLM__MODEL": "fake-chat",
    }
    if processes > 1:
        env["RAGBOT_DISCORD__SHARD_COUNT"] = str(processes)
    if slots is not None:
        env["RAGBOT_DISCORD__MAX_CONCURRENT"] = str(slots)
    return env


def _start_bots(env: dict[str, str], processes: int, index: Path, work: Path) -> list[subprocess.Popen[bytes]]:
    bots = []
    for i in range(processes):
        data = work / f"data-{i}"  # each process its own copy, as each host has its own disk
        shutil.copytree(index, data)
        own = env | {
            "RAGBOT_DATA_DIR": str(data),
            "RAGBOT_DATABASE__URL": f"sqlite+aiosqlite:///{work / f'ragbot-{i}.sqlite3'}",
        }
        if processes > 1:
            own["RAGBOT_DISCORD__SHARD_IDS"] = f"[{i}]"
        if "BENCH_LOAD_PROFILE" in env:
            own["BENCH_LOAD_PROFILE"] = f"{env['BENCH_LOAD_PROFILE']}-{processes}-{i}"
        with (work / f"bot-{i}.log").open("w") as log:
            command = [sys.executable, __file__, "--bot", str(work / f"lag-{i}.txt")]
            bots.append(subprocess.Popen(command, env=own, cwd=work, stdout=log, stderr=subprocess.STDOUT))
    return bots


async def _wait_ready(world: World, processes: int, bots: list[subprocess.Popen[bytes]]) -> None:
    """Every process connected and its commands synced (each syncs to every guild it was given)."""
    async with asyncio.timeout(120):
        while sum(1 for c in world.fake.calls if c.method == "PUT" and c.path.endswith("/commands")) < processes:
            if any(b.poll() is not None for b in bots):
                raise RuntimeError("a bot process exited while starting: see bot-*.log")
            await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)


def _outcomes(world: World, burst: Burst, seen: int) -> int:
    """Reads the calls Discord received since `seen`: final answers, waiting notes, refusals for a full queue."""
    calls = world.fake.calls
    for call in calls[seen:]:
        token = next((t for t in burst.sent if t in call.path), None)
        if token is None:
            continue
        body = call.json or {}
        if call.method == "PATCH" and "embeds" in body:
            burst.answered.setdefault(token, call.at)
        elif call.method == "PATCH" and str(body.get("content", "")).startswith(WAITING):
            burst.waited.add(token)
        elif call.method == "POST" and "/webhooks/" in call.path:  # an ephemeral note: the question is not answered
            text = str(body.get("content", ""))
            (burst.turned_away if BUSY in text else burst.failed).add(token)
    return len(calls)


async def _burst(world: World, questions: Iterator[str], processes: int, size: int) -> Burst:
    burst = Burst(processes, size)
    places = itertools.cycle(world.channels)
    seen = len(world.fake.calls)
    asked = []
    for _ in range(size):
        channel = next(places)
        sent = time.monotonic()
        question = {"question": next(questions)}
        ix = await world.fake.slash_command("ask", question, user_id=next(world.askers), channel_id=channel)
        burst.sent[ix.token] = sent
        asked.append(ix)
    progress = time.monotonic()
    while burst.settled < size and time.monotonic() - progress < STALLED:
        await asyncio.sleep(0.02)
        before = burst.settled
        seen = _outcomes(world, burst, seen)
        progress = time.monotonic() if burst.settled > before else progress
    for ix in asked:
        if ix.token not in burst.answered | dict.fromkeys(burst.turned_away | burst.failed):
            outcome = world.fake.interaction_outcome(ix)
            print(f"lost: acknowledged={outcome.acknowledged} shows {outcome.content!r}", file=sys.stderr)
    return burst


def _cpu_seconds(bots: list[subprocess.Popen[bytes]]) -> float:
    """CPU time the bot processes used so far (Linux /proc): unlike wall time, not stretched by a busy machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for bot in bots:
        fields = Path(f"/proc/{bot.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime and stime, after the command name
    return total


def _read_lags(work: Path, processes: int, start: float, end: float) -> list[float]:
    lags = []
    for i in range(processes):
        path = work / f"lag-{i}.txt"
        for line in path.read_text().splitlines() if path.exists() else []:
            t, lag = line.split()
            if start <= float(t) <= end:
                lags.append(float(lag))
    return lags


async def _run(processes: int, slots: int | None, index: Path, work: Path, code: Path | None) -> list[Burst]:
    async with (
        FakeDiscord(shard_count=processes) as fake,
        FakeOpenAI(latency=LATENCY, responder=quote_sources) as model,
    ):
        world = World.build(fake, processes, askers=max(BURSTS))
        bots = _start_bots(_env(world, model, processes, slots, code), processes, index, work)
        try:
            await _wait_ready(world, processes, bots)
            questions = fresh_questions()
            await _burst(world, questions, processes, 2 * processes)  # warm: HTTP connections, BM25 loaded
            results = []
            for size in BURSTS:
                cpu, own = _cpu_seconds(bots), time.process_time()
                burst = await _burst(world, questions, processes, size)
                burst.cpu, burst.fakes_cpu = _cpu_seconds(bots) - cpu, time.process_time() - own
                burst.code = f"before ({code.name})" if code is not None else burst.code
                await asyncio.sleep(0.6)  # the processes write their lag samples every 0.25 s
                burst.lags = _read_lags(work, processes, min(burst.sent.values()), max(burst.answered.values()))
                results.append(burst)
                await asyncio.sleep(1.0)
            return results
        finally:
            for bot in bots:
                bot.send_signal(signal.SIGTERM)
            for bot in bots:
                try:
                    bot.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    bot.kill()


def _row(b: Burst, alone: Burst) -> str:
    p50, p95 = b.percentile(b.times, 0.5), b.percentile(b.times, 0.95)
    answered = max(1, len(b.answered))
    cells = [
        b.code,
        str(b.processes),
        str(b.size),
        f"{len(b.answered)} / {len(b.waited)} / {len(b.turned_away)} / {len(b.failed)} / {b.lost}",
        f"{b.wall * 1000:,.0f} ms",
        f"{len(b.answered) / b.wall:.1f}/s" if b.wall > 0 else "n/a",
        f"{p50 * 1000:,.0f} ms",
        f"{p95 * 1000:,.0f} ms",
        f"{b.wall / alone.wall:.2f}x",
        f"{p50 / alone.wall:.2f}x",
        f"{b.percentile(b.lags, 0.5):.1f} ms",
        f"{b.percentile(b.lags, 0.99):.1f} ms",
        f"{b.cpu * 1000 / answered:.0f} ms",
        f"{b.fakes_cpu * 1000 / answered:.0f} ms",
    ]
    return "| " + " | ".join(cells) + " |"


def _report(results: list[list[Burst]], slots: int | None) -> None:
    load = os.getloadavg()
    print(f"model server: {LATENCY * 1000:.0f} ms to first token; {os.cpu_count()} cores; load average {load[0]:.1f}")
    print(f"answer slots per process: {slots or 'the default of the code measured'}\n")
    print(
        "| code | processes | at once | answered / told to wait / turned away / failed / lost | wall | answers/s"
        " | answer p50 | p95 | wall / 1 alone | p50 / 1 alone | loop lag p50 | p99 | CPU per answer: bots | fakes |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for bursts in results:
        alone = bursts[0]
        for burst in bursts:
            print(_row(burst, alone))


def _problems(work: Path) -> None:
    """Errors the bot processes logged (a lost question has its reason there)."""
    for log in sorted(work.glob("*/bot-*.log")):
        lines = [line for line in log.read_text(errors="replace").splitlines() if " ERROR " in line]
        if lines:
            print(f"\n{log.parent.name}/{log.name}: {len(lines)} errors, e.g. {lines[0][:300]}")


async def main(processes: list[int], slots: int | None, keep: bool, before: Path | None) -> None:
    """Each process count in turn; with `before`, that code runs just before this checkout's, so that both meet
    the same load on a shared machine."""
    work = Path(tempfile.mkdtemp(prefix="ragbot-loadbench-"))
    try:
        index = await asyncio.to_thread(_prepare_index, work)
        results = []
        for count, code in itertools.product(processes, [before, None] if before else [None]):
            folder = work / f"{count}-processes-{'before' if code else 'now'}"
            folder.mkdir()
            results.append(await _run(count, slots, index, folder, code))
        _report(results, slots)
        _problems(work)
    finally:
        if keep:
            print(f"\nkept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--bot":
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        profile = os.environ.get("BENCH_LOAD_PROFILE")  # --profile: where the event loop's thread spends its time
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        asyncio.run(_bot_with_lag_samples(Path(sys.argv[2])))
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,2", help="comma-separated: 1, 2 or both (default 1,2)")
    parser.add_argument("--slots", type=int, default=None, help="RAGBOT_DISCORD__MAX_CONCURRENT (default: shipped)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, lag samples)")
    parser.add_argument("--before", type=Path, help="another checkout (e.g. `git archive main`) measured alongside")
    parser.add_argument("--profile", help="write a cProfile of each bot process's event-loop thread to PROFILE-<n>")
    args = parser.parse_args()
    if args.profile:
        os.environ["BENCH_LOAD_PROFILE"] = args.profile
    asyncio.run(main([int(n) for n in args.processes.split(",")], args.slots, args.keep, args.before))
