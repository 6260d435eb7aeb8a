"""A ChatModel over the official openai SDK: any OpenAI-compatible server (OpenAI, DeepSeek, Ollama, vLLM, ...).
Retries live here and only here: 429, 5xx and connection errors, with backoff, jitter and Retry-After."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import openai

from rag.errors import BackendError, ConfigError
from rag.llm import ChatEvent, Delta, Message, StreamCut, Thinking, UsageReport
from rag.llm.presets import PRESETS, Preset
from rag.llm.think import ThinkSplitter, strip_think
from rag.types import Usage

if TYPE_CHECKING:
    from rag.config import LLMEndpoint, LLMSettings

log = logging.getLogger(__name__)

_MAX_BACKOFF = 20.0
_MAX_RETRY_AFTER = 60.0
_NO_RETRY_HINTS = {
    400: "the request was rejected (400)",
    401: "the API key was rejected (401): check RAGBOT_LLM__API_KEY",
    402: "the account has insufficient balance (402): top it up with the provider",
    403: "access is forbidden (403): the key lacks permission for this model",
    404: "not found (404): check RAGBOT_LLM__BASE_URL and RAGBOT_LLM__MODEL (`ragbot doctor` lists the models)",
    422: "the request parameters were invalid (422)",
}


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds to wait from Retry-After (seconds or an HTTP date) or retry-after-ms; None if absent or odd."""
    if headers is None:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def backoff_delay(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return float(min(retry_after, _MAX_RETRY_AFTER)) + random.uniform(0, 0.1)
    base = min(_MAX_BACKOFF, 0.5 * 2.0**attempt)
    return base / 2 + random.uniform(0, base / 2)  # "equal jitter": spread out, never zero


def classify(exc: Exception, where: str) -> BackendError:
    """An SDK error as a BackendError saying what an operator should do."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status == 429 or status >= 500
        hint = _NO_RETRY_HINTS.get(status) or (
            "rate limited (429)" if status == 429 else f"the server failed ({status})"
        )
        detail = _error_message(exc)
        return BackendError(f"{where}: {hint}{': ' + detail if detail else ''}", status=status, retryable=retryable)
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(f"{where}: timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(f"{where}: cannot connect ({exc.__cause__ or exc})", retryable=True)
    return BackendError(f"{where}: {type(exc).__name__}: {exc}")


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return ""


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
            max_retries=0,  # retries are ours, so Retry-After, jitter and the no-retry list are in one place
        )
        self._model_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, endpoint: LLMEndpoint, settings: LLMSettings) -> OpenAIChatModel:
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
        )

    @property
    def name(self) -> str:
        return f"{self.provider}:{self._model or '?'}"

    async def aclose(self) -> None:
        await self._client.close()

    async def list_models(self) -> list[str]:
        try:
            page = await self._client.models.list()
        except openai.APIError as exc:
            raise classify(exc, f"{self.provider} GET /models") from exc
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

    async def _create(self, request: dict[str, Any]) -> Any:
        attempt = 0
        while True:
            try:
                return await self._client.chat.completions.create(**request)
            except openai.APIError as exc:
                error = classify(exc, f"{self.provider} {request['model']}")
                if not error.retryable or attempt >= self._settings.max_retries:
                    raise error from exc
                wait = backoff_delay(
                    attempt, retry_after_seconds(getattr(getattr(exc, "response", None), "headers", None))
                )
                log.warning("%s; retrying in %.1f s (%d/%d)", error, wait, attempt + 1, self._settings.max_retries)
                await asyncio.sleep(wait)
                attempt += 1

    async def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None) -> AsyncIterator[ChatEvent]:
        """Retries (like `_create`) also cover a stream that fails before its first piece; once output has
        started, a failure ends the stream with StreamCut instead: what the user saw stays."""
        model = await self.model()
        request = self._request(model, messages, max_tokens or self._settings.max_tokens, stream=True)
        attempt = 0
        while True:
            started = False
            splitter = ThinkSplitter()
            response = await self._create(request)
            try:
                async for chunk in response:
                    for event in _events(chunk, splitter):
                        started = started or not isinstance(event, UsageReport)
                        yield event
                for event in _flush(splitter):
                    yield event
                return
            except Exception as exc:  # the SDK surfaces a broken stream as several error types
                if started:
                    log.warning("%s stream broke after output started: %s", self.name, exc)
                    for event in _flush(splitter):
                        yield event
                    yield StreamCut(f"{type(exc).__name__}: {exc}")
                    return
                error = classify(exc, f"{self.provider} {model}") if isinstance(exc, openai.APIError) else None
                if error is None:
                    error = BackendError(
                        f"{self.provider} {model}: stream failed ({type(exc).__name__})", retryable=True
                    )
                if not error.retryable or attempt >= self._settings.max_retries:
                    raise error from exc
                wait = backoff_delay(attempt, None)
                log.warning("%s before the first token; retrying in %.1f s", error, wait)
                await asyncio.sleep(wait)
                attempt += 1
            finally:
                await response.close()

    async def complete(self, messages: Sequence[Message], *, max_tokens: int) -> str:
        model = await self.model()
        response = await self._create(self._request(model, messages, max_tokens, stream=False))
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
