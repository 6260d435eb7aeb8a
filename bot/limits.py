"""Load limits: a per-user token bucket, and a bounded queue in front of a fixed number of answer slots."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)
WaitHook = Callable[[int], Awaitable[None]]  # told how many questions are ahead, when one has to wait


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Cooldown:
    """Each user may ask `capacity` questions, refilled evenly over `period` seconds.

    Kept in memory, per process, on purpose: with several sharded processes Discord sends all of one server's
    events to one shard, so a user asking in a server always meets the same process and the same bucket. Only a
    user asking in servers (or DMs, which go to shard 0) served by different processes gets one bucket in each:
    rare, bounded by the number of processes, and not worth a database write on every question."""

    def __init__(self, capacity: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.rate = capacity / period
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def try_take(self, user_id: int) -> float:
        """0 if the user may ask now (a token is taken), else the seconds until they may."""
        now = self._clock()
        bucket = self._buckets.get(user_id) or _Bucket(float(self.capacity), now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[user_id] = bucket
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        if len(self._buckets) > 10_000:  # forget users whose buckets are full again
            self._buckets = {u: b for u, b in self._buckets.items() if b.tokens < self.capacity}
        return (1 - bucket.tokens) / self.rate


def waiting_note(ahead: int) -> str:
    """What an asker sees while their question waits for a free answer slot (`ahead`: questions queued before it)."""
    place = "yours is next" if ahead == 0 else f"{ahead} {'is' if ahead == 1 else 'are'} ahead of yours"
    return f"⏳ Many questions are being answered right now: {place}. It will be answered shortly."


class QueueFull(Exception):
    """More answers are waiting than the queue allows."""


class AnswerSlots:
    """At most `concurrent` answers at once; up to `max_waiting` more wait their turn, in order."""

    def __init__(self, concurrent: int, max_waiting: int) -> None:
        self._semaphore = asyncio.Semaphore(concurrent)
        self._max_waiting = max_waiting
        self.waiting = 0
        self.active = 0

    @asynccontextmanager
    async def slot(self, on_wait: WaitHook | None = None) -> AsyncIterator[None]:
        """A slot for one answer. When none is free, the question joins the queue first (its place is kept from
        that moment) and then `on_wait` tells the asker, so a burst is answered in order and nobody is left
        looking at "thinking…" without knowing why."""
        if self._semaphore.locked() and self.waiting >= self._max_waiting:
            raise QueueFull
        ahead = self.waiting
        self.waiting += 1
        try:
            await self._acquire(on_wait if self._semaphore.locked() else None, ahead)
        finally:
            self.waiting -= 1
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self._semaphore.release()

    async def _acquire(self, on_wait: WaitHook | None, ahead: int) -> None:
        if on_wait is None:
            await self._semaphore.acquire()
            return
        acquiring = asyncio.ensure_future(self._semaphore.acquire())  # in the queue before the note is sent
        try:
            await on_wait(ahead)
        except Exception as exc:  # the note is a courtesy: failing to show it must not cost the answer
            log.info("could not tell a queued asker they wait: %s", exc)
        except BaseException:
            acquiring.cancel()
            if acquiring.done() and not acquiring.cancelled():
                self._semaphore.release()  # it was granted just before the cancellation: give it back
            raise
        await acquiring
