"""Benchmark of counting FAQ uses: what an FAQ answer waits for with the count written in the background (as
shipped: FaqBook.find starts the write and returns), against waiting for the write before answering; first on an
idle database, then while another process (a `ragbot faq import`, a second bot) holds SQLite's write lock.

SQLite in a temporary folder, one entry, matching by word overlap (no model: the matching cost is the same on
both sides and is not what is measured). Run: python bench/bench_faq_use.py
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from curation.db import Database, resolve_url
from curation.faq import FaqBook

GUILD = 1
QUESTION = "Who founded DeepSeek?"
RUNS = 200
BURST = 50
LOCK_HELD = 1.0  # seconds another process keeps the write lock


async def _timed(book: FaqBook, *, wait_for_write: bool) -> float:
    started = time.perf_counter()
    found = await book.find(QUESTION, GUILD)
    if wait_for_write:
        await book.db.flush()
    assert found is not None
    return (time.perf_counter() - started) * 1000


async def _series(book: FaqBook, *, wait_for_write: bool) -> tuple[float, float, float]:
    """p50 and p95 of one question at a time, and the wall time of a burst of questions at once (ms)."""
    one = sorted([await _timed(book, wait_for_write=wait_for_write) for _ in range(RUNS)])
    await book.db.flush()
    started = time.perf_counter()
    await asyncio.gather(*(_timed(book, wait_for_write=wait_for_write) for _ in range(BURST)))
    burst = (time.perf_counter() - started) * 1000
    await book.db.flush()
    return statistics.median(one), one[int(0.95 * (len(one) - 1))], burst


def _hold_write_lock(path: Path, held: threading.Event) -> None:
    """Another process's writer: BEGIN IMMEDIATE, then keep the lock for LOCK_HELD seconds."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(LOCK_HELD)
    conn.execute("ROLLBACK")
    conn.close()


async def _while_locked(book: FaqBook, path: Path, *, wait_for_write: bool) -> float:
    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, held))
    holder.start()
    await asyncio.to_thread(held.wait)
    waited = await _timed(book, wait_for_write=wait_for_write)
    await asyncio.to_thread(holder.join)
    await book.db.flush()
    return waited


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(resolve_url(Path(folder)))
        try:
            entry = await db.add_faq(GUILD, QUESTION, "Liang Wenfeng.", author_id=1)
            book = FaqBook(db, None, 0.8)
            await _series(book, wait_for_write=True)  # warm-up: connections, caches
            inline = await _series(book, wait_for_write=True)
            background = await _series(book, wait_for_write=False)
            path = Path(folder) / "ragbot.sqlite3"
            locked = [await _while_locked(book, path, wait_for_write=w) for w in (False, True)]
            stored = await db.get_faq(entry.id, GUILD)
            assert stored is not None
            print(f"uses counted: {stored.use_count} of {3 * (RUNS + BURST) + 2} answers")
        finally:
            await db.close()
    print(
        f"\n{'FAQ answer waits for':<24} {'p50 ms':>8} {'p95 ms':>8} {f'{BURST} at once':>12} {'write lock held':>16}"
    )
    for label, (p50, p95, burst), lock in (
        ("the match (as shipped)", background, locked[0]),
        ("the match + the write", inline, locked[1]),
    ):
        print(f"{label:<24} {p50:8.2f} {p95:8.2f} {burst:9.0f} ms {lock:13.0f} ms")
    ratios = [i / b for i, b in zip((*inline, locked[1]), (*background, locked[0]), strict=True)]
    print(f"{'ratio (write / shipped)':<24} {ratios[0]:7.1f}x {ratios[1]:7.1f}x {ratios[2]:11.1f}x {ratios[3]:15.0f}x")


if __name__ == "__main__":
    asyncio.run(main())
