"""A ChatModel over the official openai SDK: any OpenAI-compatible server (OpenAI, DeepSeek, Ollama, vLLM, ...).
Retries follow the one policy in `rag.retry`; a streamed reply counts as sent once its first piece has arrived."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import openai

from rag.errors import BackendError, ConfigError
from rag.http_clients import async_http_client
from rag.llm import ChatEvent, Delta, Message, StreamCut, Thinking, UsageReport
from rag.llm.presets import PRESETS, Preset
from rag.llm.think import ThinkSplitter, strip_think
from rag.observe import NULL_OBSERVER, Observer
from rag.redact import redact
from rag.retry import RetryPolicy, describe_api_error
from rag.types import Usage

if TYPE_CHECKING:
    from rag.config import LLMEndpoint, LLMSettings

log = logging.getLogger(__name__)

_HINTS = {
    400: "the request was rejected (400)",
    401: "the API key was rejected (401): check RAGBOT_LLM__API_KEY",
    402: "the account has insufficient balance (402): top it up with the provider",
    403: "access is forbidden (403): the key lacks permission for this model",
    404: "not found (404): check RAGBOT_LLM__BASE_URL and RAGBOT_LLM__MODEL (`ragbot doctor` lists the models)",
    422: "the request parameters were invalid (422)",
}


@dataclass(slots=True)
class _Opened:
    """A stream whose first piece has arrived (or that ended without one): from here on it is not retried."""

    response: Any
    splitter: ThinkSplitter
    first: list[ChatEvent] = field(default_factory=list)


class OpenAIChatModel:
    def __init__(
        self,
        *,
        provider: str,
        preset: Preset,
        base_url: str,
        model: str | None,
        api_key: str,
        settings: LLMSettings,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        self.provider = provider
        self.preset = preset
        self.base_url = base_url
        self._model = model
        self._settings = settings
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",  # local servers take any key; the SDK insists on one
            timeout=openai.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            max_retries=0,  # rag.retry says why its policy runs instead of the SDK's
            http_client=async_http_client(),
        )
        self._retry = RetryPolicy(settings.max_retries, settings.max_wait, observer=observer, provider=provider)
        self._secrets = (api_key,)
        self._model_lock = asyncio.Lock()

    @classmethod
    def from_settings(
        cls, endpoint: LLMEndpoint, settings: LLMSettings, *, observer: Observer = NULL_OBSERVER
    ) -> OpenAIChatModel:
        preset = PRESETS.get(endpoint.provider)
        if preset is None:
            raise ConfigError(f"RAGBOT_LLM__PROVIDER: unknown provider {endpoint.provider!r}")
        base_url = endpoint.base_url or preset.base_url
        if not base_url:
            raise ConfigError("RAGBOT_LLM__BASE_URL: required for provider 'custom'")
        key = endpoint.api_key.get_secret_value() if endpoint.api_key else ""
        if preset.needs_key and not key:
            raise ConfigError(f"RAGBOT_LLM__API_KEY: provider {endpoint.provider!r} needs an API key")
        if preset.needs_model and not endpoint.model:
            raise ConfigError(f"RAGBOT_LLM__MODEL: provider {endpoint.provider!r} needs a model name")
        return cls(
            provider=endpoint.provider,
            preset=preset,
            base_url=base_url,
            model=endpoint.model,
            api_key=key,
            settings=settings,
            observer=observer,
        )

    @property
    def name(self) -> str:
        return f"{self.provider}:{self._model or '?'}"

    async def aclose(self) -> None:
        await self._client.close()

    async def list_models(self) -> list[str]:
        page = await self._retry.run(self._client.models.list, partial(self._describe, "GET /models"))
        return [m.id for m in page.data]

    async def model(self) -> str:
        """The configured model, or the first the server lists (asked once)."""
        if self._model:
            return self._model
        async with self._model_lock:
            if not self._model:
                models = await self.list_models()
                if not models:
                    raise BackendError(f"{self.provider} lists no models: set RAGBOT_LLM__MODEL")
                self._model = models[0]
                log.info(
                    "using model %s, the first %s lists (set RAGBOT_LLM__MODEL to choose)", models[0], self.provider
                )
        return self._model

    def _request(self, model: str, messages: Sequence[Message], max_tokens: int, stream: bool) -> dict[str, Any]:
        request: dict[str, Any] = {"model": model, "messages": list(messages), "stream": stream}
        # OpenAI's current models take max_completion_tokens; every other server knows max_tokens.
        request["max_completion_tokens" if self.provider == "openai" else "max_tokens"] = max_tokens
        request["temperature"] = self._settings.temperature
        if stream:
            request["stream_options"] = {"include_usage": True}
        if self.preset.thinking_toggle and not self._settings.thinking:
            request["extra_body"] = {"thinking": {"type": "disabled"}}
        return request

    def _describe(self, what: str, exc: Exception) -> BackendError:
        return describe_api_error(exc, f"{self.provider} {what}", secrets=self._secrets, hints=_HINTS)

    def _describe_opening(self, model: str, exc: Exception) -> BackendError:
        error = self._describe(model, exc)
        if isinstance(exc, openai.APIStatusError) or error.retryable:
            return error
        # Anything else before the first piece (an unparsable chunk, an error event in the stream) is the server
        # failing mid-request, like a 5xx: worth another attempt from the same budget.
        return BackendError(f"{error.args[0]} (the stream failed before any output)", retryable=True)

    async def _open(self, request: dict[str, Any]) -> _Opened:
        """Send the request and read up to the first piece of output: until then a failure is a failed attempt."""
        response = await self._client.chat.completions.create(**request)
        opened = _Opened(response, ThinkSplitter())
        try:
            while not _has_output(opened.first):
                try:
                    chunk = await anext(response)
                except StopAsyncIteration:
                    opened.first.extend(_flush(opened.splitter))
                    break
                opened.first.extend(_events(chunk, opened.splitter))
        except BaseException:
            await response.close()
            raise
        return opened

    async def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None) -> AsyncIterator[ChatEvent]:
        """Failures before the first piece are retried within one budget (see rag.retry); once output has
        started, a failure ends the stream with StreamCut instead: what the user saw stays."""
        model = await self.model()
        request = self._request(model, messages, max_tokens or self._settings.max_tokens, stream=True)
        opened = await self._retry.run(partial(self._open, request), partial(self._describe_opening, model))
        try:
            for event in opened.first:
                yield event
            async for chunk in opened.response:
                for event in _events(chunk, opened.splitter):
                    yield event
            for event in _flush(opened.splitter):
                yield event
        except Exception as exc:  # the SDK surfaces a broken stream as several error types
            reason = redact(f"{type(exc).__name__}: {exc}", self._secrets)
            log.warning("%s stream broke after output started: %s", self.name, reason)
            for event in _flush(opened.splitter):
                yield event
            yield StreamCut(reason)
        finally:
            await opened.response.close()

    async def complete(self, messages: Sequence[Message], *, max_tokens: int) -> str:
        model = await self.model()
        request = self._request(model, messages, max_tokens, stream=False)
        response = await self._retry.run(
            partial(self._client.chat.completions.create, **request), partial(self._describe, model)
        )
        if not response.choices:
            return ""
        return strip_think(response.choices[0].message.content or "")


def _events(chunk: Any, splitter: ThinkSplitter) -> list[ChatEvent]:
    events: list[ChatEvent] = []
    if getattr(chunk, "usage", None):
        events.append(UsageReport(_usage(chunk.usage)))
    if not chunk.choices:
        return events
    delta = chunk.choices[0].delta
    reasoning = _reasoning_of(delta)
    if reasoning:
        events.append(Thinking(reasoning))
    for is_reasoning, text in splitter.feed(delta.content or ""):
        events.append(Thinking(text) if is_reasoning else Delta(text))
    return events


def _has_output(events: list[ChatEvent]) -> bool:
    """Reasoning or text has arrived (a usage report alone is not output)."""
    return any(not isinstance(event, UsageReport) for event in events)


def _flush(splitter: ThinkSplitter) -> list[ChatEvent]:
    return [Thinking(t) if is_reasoning else Delta(t) for is_reasoning, t in splitter.flush()]


def _reasoning_of(delta: Any) -> str:
    value = getattr(delta, "reasoning_content", None)
    if value is None and getattr(delta, "model_extra", None):
        value = delta.model_extra.get("reasoning_content") or delta.model_extra.get("reasoning")
    return value or ""


def _usage(raw: Any) -> Usage:
    extra = getattr(raw, "model_extra", None) or {}
    return Usage(
        prompt_tokens=int(raw.prompt_tokens or 0),
        completion_tokens=int(raw.completion_tokens or 0),
        cache_hit_tokens=extra.get("prompt_cache_hit_tokens"),
        cache_miss_tokens=extra.get("prompt_cache_miss_tokens"),
    )
