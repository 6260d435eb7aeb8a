"""Answers are logged while they are delivered (never before: a storage failure must not cost the asker an
answer). A button pressed a moment after an answer appeared may find its log row still being written: lookups
wait for that write, briefly, instead of saying the answer is forgotten. So does the next question, whose
server's daily token budget is counted from those rows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from curation.db import Database
    from curation.db.records import StoredAnswer

log = logging.getLogger(__name__)

# Longest a lookup waits for a write in progress; Discord wants an interaction answered within 3 seconds.
WAIT_SECONDS = 1.5
_writing: dict[str, asyncio.Task[None]] = {}  # answer id -> its log write; also keeps the task referenced


def record_in_background(answer_id: str, write: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    task = asyncio.create_task(write)
    _writing[answer_id] = task
    task.add_done_callback(lambda _: _writing.pop(answer_id, None))
    return task


async def recorded_answer(db: Database, answer_id: str, guild_id: int | None) -> StoredAnswer | None:
    """The logged answer, or None when there is none (or it could not be written)."""
    if (task := _writing.get(answer_id)) is not None:
        with contextlib.suppress(Exception):  # a failed write was logged where it failed; None follows
            await asyncio.wait_for(asyncio.shield(task), WAIT_SECONDS)
    return await db.get_answer(answer_id, guild_id=guild_id)


async def settle_recordings() -> None:
    """Wait (at most WAIT_SECONDS) for the log writes in progress: a question asked the moment the previous answer
    appeared is checked against a budget that counts that answer's tokens."""
    loop = asyncio.get_running_loop()  # a write left by a bot on a loop since closed is nothing to wait for
    if writing := [task for task in _writing.values() if task.get_loop() is loop]:
        await asyncio.wait(writing, timeout=WAIT_SECONDS)
