"""Benchmark of the bot through the loopback Discord and a model server at a fixed 300 ms to first token:
50 questions at once — are they all answered, in about one model latency (not fifty), and does the event
loop stay responsive (lag p99) while embeddings and retrieval run?

Run: python bench/bench_bot.py   (RAGBOT_EMBEDDING__MODEL_DIR must point at the model)
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import yaml  # noqa: E402
from fakes.discord_server import FakeDiscord  # noqa: E402
from fakes.openai_server import FakeOpenAI, quote_sources  # noqa: E402

from bot.client import create_bot  # noqa: E402
from curation.db import Database  # noqa: E402
from curation.faq import FaqBook  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.index import open_index  # noqa: E402
from rag.service import RagService, build_service  # noqa: E402

LATENCY = 0.3
QUESTIONS = [i["q"] for i in yaml.safe_load((REPO / "tests/rag/data/devset.yaml").read_text())["in_scope"]]
OPENERS = ("", "Quick question: ", "I was wondering: ", "Can you tell me: ", "Please explain: ", "Briefly: ")


def fresh_questions() -> Iterator[str]:
    """New texts, one after the other: each opening phrase with each dev-set question. A question embedded a moment
    ago is remembered (rag.embeddings.batching), so a burst of repeats would measure that memory, not the bot."""
    return itertools.cycle(o + q for o in OPENERS for q in QUESTIONS)


def warm_sentences(service: RagService) -> None:
    """Search every dev-set question once: the candidates' sentence vectors are embedded and kept on disk, as they
    are on a bot that has run a while (cold, a first question embeds ~100 sentences: seconds on a busy machine)."""
    for question in QUESTIONS:
        service.retriever.search(question)


def model_dir() -> Path:
    default = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2" / "onnx"
    return Path(os.environ.get("RAGBOT_EMBEDDING__MODEL_DIR") or default)


async def lag_monitor(samples: list[tuple[float, float]], stop: asyncio.Event, tick: float = 0.005) -> None:
    """Event-loop lag: how late a `tick` timer fires, as (time.monotonic(), milliseconds late) samples."""
    while not stop.is_set():
        start = time.monotonic()
        await asyncio.sleep(tick)
        now = time.monotonic()
        samples.append((now, (now - start - tick) * 1000))


async def _burst(fake: FakeDiscord, n: int, questions: Iterator[str]) -> float:
    mark = fake.mark()
    start = time.perf_counter()
    sent = [await fake.slash_command("ask", {"question": next(questions)}) for _ in range(n)]
    tokens = {ix.token for ix in sent}

    def finals() -> int:
        return sum(
            1
            for c in fake.calls[mark:]
            if c.method == "PATCH" and "embeds" in (c.json or {}) and any(t in c.path for t in tokens)
        )

    while finals() < n:
        await asyncio.sleep(0.01)
    return time.perf_counter() - start


async def run(max_concurrent: int, work: Path) -> dict[str, float]:
    async with FakeDiscord() as fake, FakeOpenAI(latency=LATENCY, responder=quote_sources) as model:
        with fake.patch_discord():
            settings = Settings(
                _env_file=None,
                data_dir=work / f"data-{max_concurrent}",
                embedding={"model_dir": model_dir()},
                llm={"provider": "custom", "base_url": model.base_url, "model": "fake-chat"},
                discord={"guild_ids": [fake.guild_id], "cooldown_questions": 100, "max_concurrent": max_concurrent},
            )
            db = await Database.open(f"sqlite+aiosqlite:///{work / f'ragbot-{max_concurrent}.sqlite3'}")
            index = open_index(settings)
            service = build_service(settings, index=index, faqs=FaqBook(db, index.embedder, settings.faq.threshold))
            await service.prepare()
            await asyncio.to_thread(warm_sentences, service)
            bot = create_bot(service=service, config=settings.discord, db=db, guild_ready_timeout=0.1)
            await bot.login("bench")
            connection = asyncio.create_task(bot.connect(reconnect=False))
            await bot.wait_until_ready()
            await fake.wait_for_call(lambda c: c.method == "PUT" and c.path.endswith("/commands"), 10)
            questions = fresh_questions()
            single = await _burst(fake, 1, questions)
            samples: list[tuple[float, float]] = []
            stop = asyncio.Event()
            monitor = asyncio.create_task(lag_monitor(samples, stop))
            wall = await _burst(fake, 50, questions)
            stop.set()
            await monitor
            await bot.close()
            await connection
            await service.aclose()
            await db.close()
    ordered = sorted(lag for _, lag in samples)
    return {
        "single": single,
        "wall": wall,
        "lag_p50": statistics.median(ordered),
        "lag_p99": ordered[int(0.99 * (len(ordered) - 1))],
        "lag_max": ordered[-1],
    }


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="ragbot-botbench-"))
    try:
        default = Settings(_env_file=None).discord.max_concurrent
        results = {n: await run(n, work) for n in (default, 8)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"model server: {LATENCY * 1000:.0f} ms to first token; {os.cpu_count()} cores; one process\n")
    print("| RAGBOT_DISCORD__MAX_CONCURRENT | one /ask | 50 /ask at once | ratio | loop lag p50 | p99 | max |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n, r in results.items():
        print(
            f"| {n} | {r['single'] * 1000:.0f} ms | {r['wall'] * 1000:.0f} ms | {r['wall'] / r['single']:.1f}x |"
            f" {r['lag_p50']:.1f} ms | {r['lag_p99']:.1f} ms | {r['lag_max']:.1f} ms |"
        )


if __name__ == "__main__":
    asyncio.run(main())
