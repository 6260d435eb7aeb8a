"""Benchmark of URL sources against a loopback web site.

1. A 50 MB page: ragbot's capped, streamed fetch (RAGBOT_INGEST__MAX_FILE_MB=4) side by side with a plain
   `httpx.get` that reads the body whole: time, peak memory allocated by Python, bytes the server got to send.
2. `RagService.add_url` of a news page (download, extraction, embedding, index swap): time, and the event loop's
   worst lag meanwhile (the bot's gateway heartbeat runs on that loop).

Run: python bench/bench_url_fetch.py   (RAGBOT_EMBEDDING__MODEL_DIR must point at the model)
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import httpx  # noqa: E402
from fakes.web_site import Endless, WebSite  # noqa: E402
from web_pages import act_html  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.errors import UrlSourceError  # noqa: E402
from rag.service import build_service  # noqa: E402
from rag.web import FetchPolicy, fetch  # noqa: E402

SIZE = 50_000_000
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


async def _measure(site: WebSite, work: Callable[[str], Awaitable[Any]]) -> tuple[float, float, int, str]:
    """(seconds, peak MB allocated, MB the server sent, outcome) of one fetch of a fresh 50 MB page."""
    page = Endless(SIZE)
    site.pages["/huge.txt"] = page
    tracemalloc.start()
    started = time.perf_counter()
    try:
        await work(site.url("/huge.txt"))
        outcome = "read whole"
    except UrlSourceError as exc:
        outcome = f"refused: {exc}"
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    await asyncio.sleep(0.3)  # the server notices the hang-up
    return elapsed, peak / 1e6, page.sent // 1_000_000, outcome


async def _plain_get(url: str) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        (await client.get(url)).raise_for_status()


async def _loop_lag(stop: asyncio.Event) -> float:
    worst = 0.0
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - before - 0.01)
    return worst


async def _add_url(site: WebSite, data: Path) -> tuple[float, float, str]:
    model = os.environ.get("RAGBOT_EMBEDDING__MODEL_DIR") or str(REPO.parent / "shared/models/all-MiniLM-L6-v2/onnx")
    ingest: dict[str, Any] = {"allow_private_urls": ["127.0.0.1/32"]}
    settings = Settings(
        _env_file=None, data_dir=data, corpus_dir=REPO / "corpus", embedding={"model_dir": model}, ingest=ingest
    )
    service = build_service(settings)
    try:
        await service.prepare()
        url = site.page("/act.html", act_html(" ".join(f"Paragraph {i} of the annex." for i in range(400))))
        stop = asyncio.Event()
        lag = asyncio.create_task(_loop_lag(stop))
        started = time.perf_counter()
        change = await service.add_url(url)
        elapsed = time.perf_counter() - started
        stop.set()
        return elapsed, await lag, change.line()
    finally:
        await service.aclose()


async def main() -> None:
    policy = FetchPolicy(max_bytes=4_000_000, allow_private=LOOPBACK)
    async with WebSite() as site:
        capped = await _measure(site, lambda url: fetch(url, policy))
        plain = await _measure(site, _plain_get)
        print(f"50 MB page            {'ragbot fetch (4 MB cap)':>26} {'httpx.get, whole body':>24}")
        print(f"time                  {capped[0]:>24.2f} s {plain[0]:>22.2f} s  ({plain[0] / capped[0]:.1f}x)")
        print(f"peak Python memory    {capped[1]:>23.1f} MB {plain[1]:>21.1f} MB  ({plain[1] / capped[1]:.1f}x)")
        print(f"server got to send    {capped[2]:>23d} MB {plain[2]:>21d} MB")
        print(f"outcome: {capped[3]}")
        with tempfile.TemporaryDirectory() as folder:
            elapsed, lag, line = await _add_url(site, Path(folder))
        print(f"\nadd_url of a news page: {elapsed:.2f} s, worst event-loop lag meanwhile {lag * 1000:.0f} ms")
        print(f"  {line}")


if __name__ == "__main__":
    asyncio.run(main())
