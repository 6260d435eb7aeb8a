from __future__ import annotations

import asyncio

import pytest

from bot.limits import AnswerSlots, Cooldown, QueueFull


def test_token_bucket_refills_evenly() -> None:
    now = [0.0]
    cooldown = Cooldown(capacity=3, period=60, clock=lambda: now[0])
    assert [cooldown.try_take(1) for _ in range(3)] == [0, 0, 0]
    assert cooldown.try_take(1) == pytest.approx(20.0)  # one question per 20 s once the bucket is empty
    assert cooldown.try_take(2) == 0  # other users are not affected
    now[0] = 20.0
    assert cooldown.try_take(1) == 0 and cooldown.try_take(1) == pytest.approx(20.0)


async def test_slots_queue_in_order_and_turn_away_beyond_the_queue() -> None:
    slots = AnswerSlots(concurrent=2, max_waiting=2)
    order: list[int] = []
    release = asyncio.Event()

    async def answer(n: int) -> None:
        async with slots.slot():
            order.append(n)
            await release.wait()

    tasks = [asyncio.create_task(answer(n)) for n in range(4)]
    await asyncio.sleep(0.05)
    assert order == [0, 1] and slots.active == 2 and slots.waiting == 2
    with pytest.raises(QueueFull):
        async with slots.slot():
            pass
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3] and slots.active == 0
