"""Benchmark of the generation pipeline against a loopback model server with a fixed 300 ms to first token.

(a) the overhead our pipeline adds before the model is asked (standalone query, retrieval, prompt building):
    p50/p95 over 200 questions, measured from the call to the moment the request reaches the server;
(b) 50 questions at once: wall time compared with one model latency (concurrent, not serialized).

Run: python bench/bench_generation.py   (RAGBOT_EMBEDDING__MODEL_DIR must point at the model)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from bench_bot import fresh_questions, warm_sentences  # noqa: E402
from fakes.openai_server import FakeOpenAI, quote_sources  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.service import build_service  # noqa: E402

LATENCY = 0.3
DEVSET = yaml.safe_load((REPO / "tests" / "rag" / "data" / "devset.yaml").read_text())


def _model_dir() -> Path:
    default = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2" / "onnx"
    return Path(os.environ.get("RAGBOT_EMBEDDING__MODEL_DIR") or default)


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="ragbot-genbench-"))
    questions = [item["q"] for item in DEVSET["in_scope"]]
    try:
        async with FakeOpenAI(latency=LATENCY, responder=quote_sources) as fake:
            settings = Settings(
                _env_file=None,
                data_dir=work,
                embedding={"model_dir": _model_dir()},
                llm={"provider": "custom", "base_url": fake.base_url, "model": "fake-chat"},
            )
            service = build_service(settings)
            await service.prepare()
            await asyncio.to_thread(warm_sentences, service)
            await service.answer(questions[0])  # warm: BM25 cache, HTTP connection
            fresh = fresh_questions()  # new texts only (see bench_bot.fresh_questions)

            overheads = []
            for _ in range(200):
                sent = len(fake.requests)
                start = time.perf_counter()
                answer = await service.answer(next(fresh))
                assert answer.refused or (answer.grounded and not answer.flagged), answer
                request = fake.requests[sent] if len(fake.requests) > sent else None
                if request is not None:
                    overheads.append((request.at - start) * 1000)
            ordered = sorted(overheads)
            p50, p95 = statistics.median(ordered), ordered[int(0.95 * len(ordered)) - 1]

            start = time.perf_counter()
            await service.answer(next(fresh))
            single = time.perf_counter() - start
            batch = [next(fresh) for _ in range(50)]
            start = time.perf_counter()
            answers = await asyncio.gather(*(service.answer(q) for q in batch))
            wall = time.perf_counter() - start
            await service.aclose()

        print(f"model server: {LATENCY * 1000:.0f} ms to first token; {os.cpu_count()} cores\n")
        print("| measure | value |\n|---|---:|")
        print(f"| pipeline overhead before the model call, p50 ({len(overheads)} questions) | {p50:.1f} ms |")
        print(f"| pipeline overhead before the model call, p95 | {p95:.1f} ms |")
        print(f"| one question, end to end | {single * 1000:.0f} ms |")
        print(f"| 50 questions at once, wall time | {wall * 1000:.0f} ms |")
        print(f"| 50 at once / one question | {wall / single:.2f}x (serialized would be ~50x) |")
        print(f"| answered | {sum(1 for a in answers if a.grounded or a.refused)}/50 |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
