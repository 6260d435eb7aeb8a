"""Writes the answer path does not wait for (an FAQ entry's use), kept until they are done.

Each write is a task held here until it finishes; `drain()` (called by Database.close) waits for the ones still
running, so stopping the bot does not drop them. A write that fails is tried again a few times before it is
logged and given up: a database that stays unreachable for that long loses only the counter, never an answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from rag.errors import DatabaseError

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.2, 1.0, 5.0)  # seconds before each retry: a locked SQLite file or a restarting server
DRAIN_TIMEOUT = 30.0


class BackgroundWrites:
    def __init__(self, retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry_delays = retry_delays

    def start(self, what: str, write: Callable[[], Awaitable[object]]) -> None:
        """Run `write` soon, on the running loop; `what` names it in the log if it keeps failing."""
        task = asyncio.get_running_loop().create_task(self._run(what, write))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, what: str, write: Callable[[], Awaitable[object]]) -> None:
        for delay in (*self._retry_delays, None):
            try:
                await write()
                return
            except DatabaseError as exc:
                if delay is None:
                    log.warning("gave up recording %s: %s", what, exc)
                    return
                log.info("recording %s failed, retrying in %.1f s: %s", what, delay, exc)
                await asyncio.sleep(delay)
            except Exception:
                log.exception("recording %s failed", what)
                return

    async def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait for the writes still running (at most `timeout` seconds; the rest are logged as lost)."""
        pending = set(self._tasks)
        if not pending:
            return
        _done, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            log.warning("background writes that did not finish before the database closed: %d", len(late))
