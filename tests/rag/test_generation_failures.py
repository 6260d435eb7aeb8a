"""A misbehaving provider, scripted on the loopback server and met by the real SDK: one retry budget per call,
a cap on the total wait, fallbacks still tried, and no API key in any error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAI

from rag.config import LLMSettings
from rag.errors import BackendError
from rag.llm import ChatEvent, ChatModel, Delta, Message, ServedBy, build_chat_model

MESSAGES: list[Message] = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Hi?"}]
KEY = "secret-key-123"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(models=("fake-chat", "backup-chat")) as server:
        yield server


def chat_model(fake: FakeOpenAI, **llm: Any) -> ChatModel:
    values: dict[str, Any] = {"provider": "custom", "base_url": fake.base_url, "model": "fake-chat", "api_key": KEY}
    model = build_chat_model(LLMSettings(**(values | llm)))
    assert model is not None
    return model


async def events_of(model: ChatModel, *, within: float = 15.0) -> list[ChatEvent]:
    """The whole stream; `within` turns a wait of minutes into a quick failure of the test."""

    async def drain() -> list[ChatEvent]:
        return [event async for event in model.stream(MESSAGES)]

    try:
        return await asyncio.wait_for(drain(), within)
    finally:
        await model.aclose()


def text_of(events: list[ChatEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, Delta))


async def test_a_bad_first_chunk_then_503s_spends_one_budget(fake: FakeOpenAI) -> None:
    for _ in range(3):
        fake.enqueue_bad_chunk()
        fake.enqueue_error(503, message="Server overloaded")
    with pytest.raises(BackendError, match=r"the server failed \(503\): Server overloaded"):
        await events_of(chat_model(fake, max_retries=1))
    # max_retries + 1, however the attempts failed; a budget per kind of failure would make a third (a bad chunk)
    assert len(fake.chat_requests) == 2


async def test_a_stream_that_fails_before_its_first_piece_is_retried(fake: FakeOpenAI) -> None:
    fake.enqueue_bad_chunk()
    fake.enqueue_reply("Hello there.")
    events = await events_of(chat_model(fake, max_retries=1))
    assert text_of(events) == "Hello there." and len(fake.chat_requests) == 2


async def test_retry_after_of_an_hour_gives_up_at_once(fake: FakeOpenAI) -> None:
    fake.enqueue_error(429, message="Rate limit reached", headers={"Retry-After": "3600"})
    fake.enqueue_reply("never asked for")
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        await events_of(chat_model(fake))
    assert time.monotonic() - started < 5
    assert "rate limited (429)" in str(caught.value)
    assert "the provider asked to wait 3600 s before retrying" in str(caught.value)
    assert "RAGBOT_LLM__MAX_WAIT = 20 s" in str(caught.value)
    assert len(fake.chat_requests) == 1


async def test_the_fallback_answers_when_the_primary_asks_to_wait_too_long(fake: FakeOpenAI) -> None:
    fake.enqueue_error(429, message="Rate limit reached", headers={"Retry-After": "3600"})
    fake.enqueue_reply("From the backup.")
    backup = {"provider": "custom", "base_url": fake.base_url, "model": "backup-chat", "api_key": "backup-key-456"}
    events = await events_of(chat_model(fake, fallbacks=[backup]))
    assert [r.json["model"] for r in fake.chat_requests if r.json] == ["fake-chat", "backup-chat"]
    served = [e for e in events if isinstance(e, ServedBy)]
    assert served and served[0].model == "custom:backup-chat" and "asked to wait 3600 s" in served[0].reason
    assert text_of(events) == "From the backup."


async def test_waits_add_up_to_at_most_max_wait(fake: FakeOpenAI) -> None:
    for _ in range(3):
        fake.enqueue_error(429, message="Slow down", headers={"Retry-After": "0.6"})
    fake.enqueue_reply("too late")
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"asked to wait 0\.6 s .* \(RAGBOT_LLM__MAX_WAIT = 1 s\)"):
        await events_of(chat_model(fake, max_retries=5, max_wait=1.0))
    assert 0.6 <= time.monotonic() - started < 5
    assert len(fake.chat_requests) == 2  # the second 0.6 s would have passed the cap: no third request


async def test_a_short_retry_after_is_honoured(fake: FakeOpenAI) -> None:
    fake.enqueue_error(503, message="Busy", headers={"retry-after-ms": "400"})
    fake.enqueue_reply("Now it works.")
    started = time.monotonic()
    events = await events_of(chat_model(fake))
    assert text_of(events) == "Now it works." and time.monotonic() - started >= 0.4
    assert len(fake.chat_requests) == 2


async def test_non_streamed_calls_follow_the_same_budget(fake: FakeOpenAI) -> None:
    model = chat_model(fake, max_retries=1)
    for _ in range(3):
        fake.enqueue_error(500, message="Internal error")
    with pytest.raises(BackendError, match=r"server failed \(500\)"):
        await model.complete(MESSAGES, max_tokens=20)
    await model.aclose()
    assert len(fake.chat_requests) == 2 and fake.script_remaining == 1


@pytest.mark.parametrize("status", [401, 402, 503])
async def test_an_echoed_api_key_is_redacted(fake: FakeOpenAI, status: int) -> None:
    for _ in range(4):
        fake.enqueue_error(status, message="Incorrect API key provided: {api_key}")
    with pytest.raises(BackendError) as caught:
        await events_of(chat_model(fake, max_retries=1, max_wait=2))
    assert fake.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"  # the key was sent, and echoed
    assert KEY not in str(caught.value) and "Incorrect API key provided: ***" in str(caught.value)


async def test_a_stream_cut_after_output_is_not_retried(fake: FakeOpenAI) -> None:
    fake.enqueue_drop("The first half of an answer")
    fake.enqueue_reply("a second request would be a duplicate answer")
    events = await events_of(chat_model(fake))
    assert text_of(events) == "The first half of an answer" and len(fake.chat_requests) == 1
