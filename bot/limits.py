"""Load limits: a per-user token bucket, and a bounded queue in front of a fixed number of answer slots."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


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
    async def slot(self) -> AsyncIterator[None]:
        if self._semaphore.locked() and self.waiting >= self._max_waiting:
            raise QueueFull
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self._semaphore.release()
