from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from fakes.discord_server import Call, SentInteraction
from harness import HarnessFactory

from bot.limits import AnswerSlots, Cooldown, QueueFull, waiting_note

FOUNDER = "Who founded DeepSeek?"
ANSWER = "DeepSeek was founded by Liang Wenfeng [1]."


def _is_final(call: Call) -> bool:
    return call.method == "PATCH" and bool((call.json or {}).get("embeds"))


def _final_of(ix: SentInteraction) -> Callable[[Call], bool]:
    return lambda call: _is_final(call) and ix.token in call.path


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


async def test_queued_answers_learn_their_place_and_a_cancelled_one_frees_it() -> None:
    slots = AnswerSlots(concurrent=1, max_waiting=5)
    notes: list[int] = []
    finish = asyncio.Event()

    async def tell(ahead: int) -> None:
        notes.append(ahead)

    async def answer() -> None:
        async with slots.slot(on_wait=tell):
            await finish.wait()

    tasks = [asyncio.create_task(answer()) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert notes == [0, 1] and slots.active == 1 and slots.waiting == 2  # the first one never waited
    tasks[1].cancel()  # the asker's answer was cut (a shutdown): its place goes to the one behind it
    await asyncio.sleep(0.05)
    assert slots.waiting == 1
    finish.set()
    await asyncio.gather(tasks[0], tasks[2])
    assert slots.active == 0 and slots.waiting == 0
    async with asyncio.timeout(1), slots.slot(on_wait=tell):  # every slot was given back
        assert notes == [0, 1]


async def test_a_queued_question_is_told_it_waits_then_gets_its_answer(harness_factory: HarnessFactory) -> None:
    """One answer slot, three questions at once: the first is answered straight away; the other two see that they
    are queued (and their place) instead of an unexplained "thinking…", then each gets its answer."""
    h = await harness_factory(max_concurrent=1, max_queue=5)
    h.model.enqueue_reply(ANSWER, first_token_delay=0.5)  # holds the only slot while the others arrive
    h.model.enqueue_reply(ANSWER)
    h.model.enqueue_reply(ANSWER)
    asked = [await h.discord.slash_command("ask", {"question": FOUNDER}) for _ in range(3)]
    for ix in asked:
        await h.discord.wait_for_call(_final_of(ix), 10)

    def contents(ix: SentInteraction) -> list[str]:
        return [c.json["content"] for c in h.discord.calls if c.method == "PATCH" and ix.token in c.path]

    assert contents(asked[0])[-1] == ANSWER and not any(c.startswith("⏳") for c in contents(asked[0]))
    assert contents(asked[1])[0] == waiting_note(0) and "yours is next" in waiting_note(0)
    assert contents(asked[2])[0] == waiting_note(1) and "1 is ahead of yours" in waiting_note(1)
    for ix in asked:
        outcome = h.discord.interaction_outcome(ix)
        assert outcome.content == ANSWER and outcome.message is not None
        assert outcome.message["embeds"][0]["title"] == "Sources" and not outcome.ephemeral
