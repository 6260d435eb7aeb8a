"""Answer-log writes in progress: what a question waits for before its budget check."""

from __future__ import annotations

import asyncio
import time

from bot.recording import WAIT_SECONDS, record_in_background, settle_recordings


async def _forever() -> None:
    await asyncio.Event().wait()


def test_a_write_left_on_a_closed_loop_does_not_hold_up_later_questions() -> None:
    """A bot stopped mid-write (its loop closed, as a test or a restart in one process does) leaves its write
    behind: the next loop's questions must not each wait WAIT_SECONDS for it."""

    async def leave_a_write() -> None:
        record_in_background("left-behind", _forever())

    old = asyncio.new_event_loop()
    old.run_until_complete(leave_a_write())
    old.close()

    async def settle_and_time() -> tuple[float, float]:
        started = time.monotonic()
        await settle_recordings()
        stale = time.monotonic() - started
        record_in_background("current", asyncio.sleep(0.2))
        started = time.monotonic()
        await settle_recordings()  # this loop's own write is waited for
        return stale, time.monotonic() - started

    stale, current = asyncio.run(settle_and_time())
    assert stale < WAIT_SECONDS / 3
    assert 0.15 < current < WAIT_SECONDS
