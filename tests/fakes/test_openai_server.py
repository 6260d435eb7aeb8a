"""Prove FakeOpenAI speaks the protocol the real `openai` SDK expects."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from fakes.openai_server import DEFAULT_REPLY, FakeOpenAI

MSGS: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What does the EU AI Act say about transparency?"}
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as f:
        yield f


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0) as c:
        yield c


async def test_base_url_and_models(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/v1" and fake.port > 0
    page = await client.models.list()
    assert [m.id for m in page.data] == ["fake-chat", "fake-embed"]
    assert page.data[0].owned_by == "fake"
    rec = fake.requests[-1]
    assert (rec.method, rec.path, rec.json) == ("GET", "/v1/models", None)
    assert rec.headers["authorization"] == "Bearer test"


async def test_non_streamed_chat(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue_reply("Article 50 requires disclosure.", reasoning="Look up Art. 50.")
    resp = await client.chat.completions.create(model="fake-chat", messages=MSGS, temperature=0.2)
    assert resp.object == "chat.completion" and resp.model == "fake-chat" and resp.id
    choice = resp.choices[0]
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "Article 50 requires disclosure."
    assert getattr(choice.message, "reasoning_content", None) == "Look up Art. 50."
    usage = resp.usage
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    [rec] = fake.chat_requests
    assert rec.json is not None and rec.json["messages"] == MSGS and rec.json["temperature"] == 0.2


async def test_default_reply_when_script_empty(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    resp = await client.chat.completions.create(model="fake-chat", messages=MSGS)
    assert resp.choices[0].message.content == DEFAULT_REPLY == fake.default_reply


async def test_streamed_chat_assembles_text(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    text = "The Act phases in obligations between 2025 and 2027."
    fake.enqueue_reply(text, chunk_size=5)
    stream = await client.chat.completions.create(model="fake-chat", messages=MSGS, stream=True)
    chunks = [c async for c in stream]
    assert all(c.object == "chat.completion.chunk" and c.model == "fake-chat" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    content_chunks = [c for c in chunks if c.choices[0].delta.content]
    assert len(content_chunks) == math.ceil(len(text) / 5)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


async def test_reasoning_chunks_arrive_before_content(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue_reply("Answer.", reasoning="Step one. Step two.", chunk_size=4)
    stream = await client.chat.completions.create(model="fake-chat", messages=MSGS, stream=True)
    order: list[tuple[str, str]] = []
    async for c in stream:
        delta = c.choices[0].delta
        # reasoning_content is not in the SDK's schema; it lands in model_extra.
        extra = (delta.model_extra or {}).get("reasoning_content")
        assert getattr(delta, "reasoning_content", None) == extra
        if r := getattr(delta, "reasoning_content", None):
            order.append(("reasoning", r))
        if delta.content:
            order.append(("content", delta.content))
    kinds = [k for k, _ in order]
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning")  # all reasoning first
    assert "".join(t for k, t in order if k == "reasoning") == "Step one. Step two."
    assert "".join(t for k, t in order if k == "content") == "Answer."


async def test_usage_chunk_with_include_usage(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    usage = {"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127, "prompt_cache_hit_tokens": 64}
    fake.enqueue_reply("Short answer.", usage=usage)
    stream = await client.chat.completions.create(
        model="fake-chat", messages=MSGS, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (120, 7, 127)
    assert (last.usage.model_extra or {})["prompt_cache_hit_tokens"] == 64
    assert all(c.usage is None for c in chunks[:-1])


async def test_rate_limit_error_then_retry_succeeds(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue_error(429, message="Slow down", code="rate_limit_exceeded", headers={"Retry-After": "1"})
    with pytest.raises(openai.RateLimitError) as ei:
        await client.chat.completions.create(model="fake-chat", messages=MSGS)
    assert ei.value.status_code == 429 and ei.value.code == "rate_limit_exceeded"
    assert ei.value.response.headers["retry-after"] == "1"
    assert "Slow down" in ei.value.message

    # Retry-After is honoured by the SDK; a fractional value keeps the test fast.
    fake.enqueue_error(429, headers={"Retry-After": "0.05"})
    fake.enqueue_reply("after retry")
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=1) as retrying:
        resp = await retrying.chat.completions.create(model="fake-chat", messages=MSGS)
    assert resp.choices[0].message.content == "after retry"
    retries = [r.headers.get("x-stainless-retry-count") for r in fake.chat_requests[-2:]]
    assert retries == ["0", "1"]
    assert fake.script_remaining == 0


async def test_402_is_api_status_error(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue_error(402, message="Insufficient Balance", err_type="unknown_error")
    with pytest.raises(openai.APIStatusError) as ei:
        await client.chat.completions.create(model="fake-chat", messages=MSGS, stream=True)
    assert ei.value.status_code == 402
    assert ei.value.type == "unknown_error" and ei.value.message.endswith("Insufficient Balance")
    assert ei.value.response.headers["content-type"].startswith("application/json")


async def test_503_is_internal_server_error(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue_error(503, message="Overloaded")
    fake.enqueue_reply("next one")  # errors consume exactly one entry
    with pytest.raises(openai.InternalServerError) as ei:
        await client.chat.completions.create(model="fake-chat", messages=MSGS)
    assert ei.value.status_code == 503 and ei.value.type == "server_error"
    resp = await client.chat.completions.create(model="fake-chat", messages=MSGS)
    assert resp.choices[0].message.content == "next one"


async def test_drop_mid_stream(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue_drop("Partial answer that gets cut")
    stream = await client.chat.completions.create(model="fake-chat", messages=MSGS, stream=True)
    received: list[str] = []
    # The installed SDK wraps transport errors raised while iterating an SSE stream.
    with pytest.raises(openai.APIConnectionError) as ei:
        async for c in stream:
            received.append(c.choices[0].delta.content or "")
    assert "".join(received) == "Partial answer that gets cut"
    assert type(ei.value.__cause__).__name__ == "RemoteProtocolError"  # httpx(2): incomplete chunked read

    # Server still healthy afterwards.
    resp = await client.chat.completions.create(model="fake-chat", messages=MSGS)
    assert resp.choices[0].message.content == DEFAULT_REPLY


async def test_client_abandoning_stream_is_quiet(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake.enqueue_reply("x" * 200_000, chunk_size=1)  # far more than socket buffers hold
    stream = await client.chat.completions.create(model="fake-chat", messages=MSGS, stream=True)
    async for _ in stream:
        break
    await stream.close()
    await asyncio.sleep(0.2)  # let the server handler hit the closed connection
    resp = await client.chat.completions.create(model="fake-chat", messages=MSGS)
    assert resp.choices[0].message.content == DEFAULT_REPLY
    assert not [r for r in caplog.records if r.name.startswith("aiohttp") and r.levelname == "ERROR"]


async def test_drop_non_streamed_is_connection_error(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue_drop("never sent")
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="fake-chat", messages=MSGS)


async def test_latency_overlaps_concurrent_requests() -> None:
    async with (
        FakeOpenAI(latency=0.3) as fake,
        openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0) as client,
    ):
        start = time.monotonic()
        results = await asyncio.gather(
            *(client.chat.completions.create(model="fake-chat", messages=MSGS) for _ in range(8))
        )
        elapsed = time.monotonic() - start
    assert len(results) == 8
    assert 0.3 <= elapsed < 1.5  # concurrent, not 8 * 0.3 s


async def test_first_token_delay_applies_after_headers(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue_reply("slow start", first_token_delay=0.3)
    start = time.monotonic()
    stream = await client.chat.completions.create(model="fake-chat", messages=MSGS, stream=True)
    headers_at = time.monotonic() - start
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "slow start"
    assert headers_at < 0.25 and time.monotonic() - start >= 0.3


async def test_embeddings_float_and_default_encoding(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    texts = ["High-risk AI systems", "transparency obligations", "high-risk ai SYSTEMS"]
    as_float = await client.embeddings.create(model="fake-embed", input=texts, encoding_format="float")
    default = await client.embeddings.create(model="fake-embed", input=texts)
    formats = [(r.json or {}).get("encoding_format") for r in fake.embedding_requests]
    # The SDK asks for base64 when no format is given, then decodes it back to floats.
    assert formats == ["float", "base64"]
    for resp in (as_float, default):
        assert resp.model == "fake-embed" and len(resp.data) == 3
        assert [d.index for d in resp.data] == [0, 1, 2]
        assert all(len(d.embedding) == 64 for d in resp.data)
        assert resp.usage.prompt_tokens == resp.usage.total_tokens > 0
    assert [d.embedding for d in as_float.data] == [d.embedding for d in default.data]
    vecs = [d.embedding for d in default.data]
    assert vecs[0] == vecs[2] != vecs[1]  # lower-cased bag of words
    assert math.isclose(sum(v * v for v in vecs[1]), 1.0, rel_tol=1e-5)
    assert vecs[0] == fake.embed_text("high risk ai systems")

    single = await client.embeddings.create(model="fake-embed", input="")
    assert single.data[0].embedding == [1.0] + [0.0] * 63


async def test_unknown_model_is_not_found(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue_reply("kept for later")
    with pytest.raises(openai.NotFoundError) as ei:
        await client.chat.completions.create(model="gpt-nope", messages=MSGS)
    assert ei.value.code == "model_not_found" and "The model `gpt-nope` does not exist" in ei.value.message
    with pytest.raises(openai.NotFoundError):
        await client.embeddings.create(model="nope-embed", input="x")
    assert fake.script_remaining == 1  # validation failures do not consume scripted replies


async def test_sync_client_embeddings(fake: FakeOpenAI) -> None:
    def call() -> list[list[float]]:
        with openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0) as sync_client:
            resp = sync_client.embeddings.create(model="fake-embed", input=["alpha beta", "gamma"])
            return [d.embedding for d in resp.data]

    # The server lives on this test's loop, so the blocking client must run in a worker thread.
    vecs = await asyncio.to_thread(call)
    assert len(vecs) == 2 and all(len(v) == 64 for v in vecs)
    assert vecs[0] == fake.embed_text("alpha beta")
