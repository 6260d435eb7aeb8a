"""Protocol-level fake of an OpenAI-compatible provider (chat, streaming, embeddings, models).

A real aiohttp server on 127.0.0.1, so the real ``openai`` SDK (and its httpx transport, retries,
SSE decoding and error mapping) is exercised end to end. Only the remote service is faked.

    async with FakeOpenAI() as fake:
        fake.enqueue_reply("Hello", reasoning="thinking...")
        client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import math
import re
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fakes.loopback import LoopbackServer

DEFAULT_REPLY = "I have no scripted answer."
_SOURCE_BLOCK = re.compile(r'<source n="(\d+)"[^>]*>\n(.*?)\n</source>', re.S)


def quote_sources(request: dict[str, Any]) -> str:
    """A responder that answers as a careful model would: the opening sentence of the first two numbered
    sources in the prompt, each cited. Benchmarks use it so answers look (and check) like real ones."""
    user = request["messages"][-1]["content"]
    parts = []
    for n, text in _SOURCE_BLOCK.findall(user)[:2]:
        sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
        parts.append(f"{sentence.rstrip('.')} [{n}].")
    return " ".join(parts) or "My sources don't cover that."


_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Recorded:
    """One request as received. Header names are lower-cased for easy lookup."""

    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None
    at: float = 0.0  # time.perf_counter() when the request arrived (benchmarks measure overhead from it)


@dataclass(frozen=True)
class _Reply:
    text: str
    reasoning: str | None = None
    chunk_size: int = 8
    first_token_delay: float = 0.0
    usage: dict[str, int] | None = None
    chunk_delay: float = 0.0  # between streamed pieces: a slow model


@dataclass(frozen=True)
class _Error:
    status: int
    message: str
    err_type: str | None
    code: str | None
    headers: dict[str, str] | None


@dataclass(frozen=True)
class _Drop:
    text_before_drop: str
    chunk_size: int = 8


@dataclass(frozen=True)
class _BadChunk:
    data: str  # sent as the stream's first (and only) event, then the stream ends


_Script = _Reply | _Error | _Drop | _BadChunk


def _pieces(text: str, size: int) -> Iterator[str]:
    size = max(1, size)
    return (text[i : i + size] for i in range(0, len(text), size))


def _error_body(message: str, err_type: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": err_type, "param": None, "code": code}}


def _default_err_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    return "requests" if status == 429 else "invalid_request_error"


def _prompt_chars(body: dict[str, Any]) -> int:
    total = 0
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):  # multi-part content: [{"type": "text", "text": ...}]
            total += sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    return total


class FakeOpenAI(LoopbackServer):
    """Scriptable OpenAI-compatible HTTP server. Use as ``async with FakeOpenAI() as fake``."""

    def __init__(
        self,
        *,
        models: Iterable[str] = ("fake-chat", "fake-embed"),
        embedding_dim: int = 64,
        latency: float = 0.0,
        default_reply: str = DEFAULT_REPLY,
        responder: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        self.models: list[str] = list(models)
        self.embedding_dim = embedding_dim
        self.latency = latency
        self.default_reply = default_reply
        # With an empty script, a responder writes the reply from the request (e.g. quoting a source).
        self.responder = responder
        self.requests: list[Recorded] = []
        # How many more embedding requests to serve; None: all. At 0 each one gets a 400 (not retried).
        self.embedding_budget: int | None = None
        self._script: deque[_Script] = deque()
        self._embedding_errors: deque[_Error] = deque()
        self._ids = itertools.count(1)

    # ---- lifecycle (start and stop are LoopbackServer's) -----------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    @property
    def base_url(self) -> str:
        return f"{self.http_base}/v1"

    # ---- inspection ------------------------------------------------------------------------
    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/chat/completions"]

    @property
    def embedding_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/embeddings"]

    @property
    def script_remaining(self) -> int:
        return len(self._script)

    # ---- scripting -------------------------------------------------------------------------
    def enqueue_reply(
        self,
        text: str,
        *,
        reasoning: str | None = None,
        chunk_size: int = 8,
        first_token_delay: float = 0.0,
        chunk_delay: float = 0.0,
        usage: dict[str, int] | None = None,
    ) -> None:
        self._script.append(_Reply(text, reasoning, chunk_size, first_token_delay, usage, chunk_delay))

    def enqueue_error(
        self,
        status: int,
        *,
        message: str = "Scripted error from FakeOpenAI",
        err_type: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """`{api_key}` in `message` becomes the key the request carried, as some providers echo it on a 401."""
        self._script.append(_Error(status, message, err_type, code, headers))

    def enqueue_drop(self, text_before_drop: str, *, chunk_size: int = 8) -> None:
        self._script.append(_Drop(text_before_drop, chunk_size))

    def enqueue_bad_chunk(self, data: str = '{"choices": [{"delta": ') -> None:
        """A streamed reply that starts (200, event-stream) with an event the client cannot parse."""
        self._script.append(_BadChunk(data))

    def enqueue_embedding_error(
        self, status: int, *, message: str = "Scripted error from FakeOpenAI", headers: dict[str, str] | None = None
    ) -> None:
        """The next embeddings request fails so (chat replies have their own script)."""
        self._embedding_errors.append(_Error(status, message, None, None, headers))

    # ---- deterministic embeddings ----------------------------------------------------------
    def embed_text(self, text: str, dim: int | None = None) -> list[float]:
        """Hashed bag of lowercase words, L2-normalised, rounded to float32 like the wire format."""
        dim = dim or self.embedding_dim
        vec = [0.0] * dim
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vec[int.from_bytes(digest, "little") % dim] += 1.0
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:
            vec[0] = 1.0  # keep the vector unit-length so cosine similarity stays defined
        else:
            vec = [v / norm for v in vec]
        # Round-trip through float32 so "float" and "base64" responses decode to identical lists.
        return list(struct.unpack(f"<{dim}f", struct.pack(f"<{dim}f", *vec)))

    # ---- handlers --------------------------------------------------------------------------
    async def _record(self, request: web.Request) -> dict[str, Any] | None:
        parsed: object = None
        if request.can_read_body:
            try:
                parsed = json.loads(await request.read())
            except ValueError:
                parsed = None
        body = parsed if isinstance(parsed, dict) else None
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(Recorded(request.method, request.path, headers, body, time.perf_counter()))
        return body

    def _check_model(self, body: dict[str, Any] | None) -> web.Response | None:
        if body is None:
            msg = "We could not parse the JSON body of your request."
            return web.json_response(_error_body(msg, "invalid_request_error", None), status=400)
        model = body.get("model")
        if model not in self.models:
            msg = f"The model `{model}` does not exist"
            return web.json_response(_error_body(msg, "invalid_request_error", "model_not_found"), status=404)
        return None

    async def _unknown(self, request: web.Request) -> web.Response:
        await self._record(request)
        msg = f"Unknown request URL: {request.method} {request.path}."
        return web.json_response(_error_body(msg, "invalid_request_error", "unknown_url"), status=404)

    async def _models(self, request: web.Request) -> web.Response:
        await self._record(request)
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        if self._embedding_errors:
            return self._error_response(request, self._embedding_errors.popleft())
        if (bad := self._check_model(body)) is not None:
            return bad
        assert body is not None
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            msg = "'input' must be a non-empty string or list of strings (token arrays unsupported)."
            return web.json_response(_error_body(msg, "invalid_request_error", None), status=400)
        if self.embedding_budget is not None:
            if self.embedding_budget <= 0:
                return web.json_response(
                    _error_body("Embedding quota used up", "invalid_request_error", None), status=400
                )
            self.embedding_budget -= 1
        dim = int(body.get("dimensions") or self.embedding_dim)
        as_b64 = body.get("encoding_format") == "base64"  # the SDK sends this unless told otherwise
        data: list[dict[str, Any]] = []
        for i, text in enumerate(texts):
            vec = self.embed_text(text, dim)
            emb: Any = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode() if as_b64 else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        n = sum(max(1, len(_WORD.findall(t))) for t in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": n, "total_tokens": n},
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        if (bad := self._check_model(body)) is not None:
            return bad
        assert body is not None
        # Pop on arrival so FIFO order follows request order even when replies overlap.
        if self._script:
            entry = self._script.popleft()
        else:
            entry = _Reply(self.responder(body) if self.responder and body else self.default_reply)
        if isinstance(entry, _Error):
            return self._error_response(request, entry)
        if isinstance(entry, _BadChunk):
            return await self._bad_chunk(request, entry, stream=bool(body.get("stream")))
        meta = {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "created": int(time.time()),
            "model": body["model"],
        }
        if body.get("stream"):
            return await self._stream(request, body, entry, meta)
        await asyncio.sleep(self.latency + getattr(entry, "first_token_delay", 0.0))
        if isinstance(entry, _Drop):
            # Nothing has been sent yet: closing now looks like "server disconnected" to the client.
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        message: dict[str, Any] = {"role": "assistant", "content": entry.text, "refusal": None}
        if entry.reasoning is not None:
            message["reasoning_content"] = entry.reasoning
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return web.json_response(
            {**meta, "object": "chat.completion", "choices": [choice], "usage": self._usage(body, entry)}
        )

    async def _bad_chunk(self, request: web.Request, entry: _BadChunk, *, stream: bool) -> web.StreamResponse:
        if not stream:
            return web.Response(text=entry.data, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        await resp.write(f"data: {entry.data}\n\n".encode())
        await resp.write_eof()
        return resp

    def _error_response(self, request: web.Request, entry: _Error) -> web.Response:
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        body = _error_body(
            entry.message.replace("{api_key}", key), entry.err_type or _default_err_type(entry.status), entry.code
        )
        return web.json_response(body, status=entry.status, headers=entry.headers)

    def _usage(self, body: dict[str, Any], entry: _Reply) -> dict[str, int]:
        if entry.usage is not None:
            return dict(entry.usage)
        prompt = max(1, _prompt_chars(body) // 4)  # ~4 chars per token is close enough for tests
        completion = max(1, (len(entry.text) + len(entry.reasoning or "")) // 4)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    async def _stream(
        self, request: web.Request, body: dict[str, Any], entry: _Reply | _Drop, meta: dict[str, Any]
    ) -> web.StreamResponse:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            c = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            out: dict[str, Any] = {**meta, "object": "chat.completion.chunk", "choices": [c]}
            if include_usage:
                out["usage"] = None  # real API: null on every chunk except the final usage chunk
            return out

        pause = getattr(entry, "chunk_delay", 0.0)

        async def send(obj: dict[str, Any] | str) -> None:
            data = obj if isinstance(obj, str) else json.dumps(obj)
            await resp.write(f"data: {data}\n\n".encode())
            if pause:
                await asyncio.sleep(pause)

        reasoning = entry.reasoning if isinstance(entry, _Reply) else None
        text = entry.text if isinstance(entry, _Reply) else entry.text_before_drop
        try:
            # Headers go out first; the delay models time-to-first-token, as with real providers.
            await asyncio.sleep(self.latency + getattr(entry, "first_token_delay", 0.0))
            if reasoning is not None:
                # DeepSeek style: both keys on every delta, the inactive one null.
                await send(chunk({"role": "assistant", "content": None, "reasoning_content": ""}))
                for piece in _pieces(reasoning, entry.chunk_size):
                    await send(chunk({"content": None, "reasoning_content": piece}))
                for piece in _pieces(text, entry.chunk_size):
                    await send(chunk({"content": piece, "reasoning_content": None}))
            else:
                await send(chunk({"role": "assistant", "content": "", "refusal": None}))
                for piece in _pieces(text, entry.chunk_size):
                    await send(chunk({"content": piece}))
            if not isinstance(entry, _Reply):
                # close() (not abort()) flushes what was written, then FIN without the terminating
                # zero-length chunk: the client sees a truncated chunked body mid-stream.
                assert request.transport is not None
                request.transport.close()
                return resp
            await send(chunk({}, "stop"))
            if include_usage:  # final extra chunk: no choices, just usage
                usage = self._usage(body, entry)
                await send({**meta, "object": "chat.completion.chunk", "choices": [], "usage": usage})
            await send("[DONE]")
            await resp.write_eof()
        except ConnectionError:
            pass  # the client went away (closed/cancelled the stream); nothing left to do
        return resp
