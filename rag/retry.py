"""One retry policy for every request to an OpenAI-compatible server: chat (streamed or not), model lists, embeddings.

What is retried and how long to wait follow openai-python's `_base_client.py`: 408, 409, 429, 5xx, timeouts and
connection errors (an `x-should-retry` header overrides); `retry-after-ms` / `Retry-After` (seconds or an HTTP date)
honoured; otherwise 0.5 s doubling up to 8 s, less up to 25 % jitter. The SDK's own loop is turned off
(`max_retries=0`) and this one runs instead, because the SDK cannot do three things a person waiting needs:

- retry a streamed reply that fails after its headers but before its first piece (an unparsable chunk, a read
  timeout): the SDK has returned the stream by then. A second loop around the SDK's multiplied the requests
  (3 retries made 13); here every kind of failure spends one budget: at most `max_retries + 1` requests.
- cap the total wait: the SDK sleeps whatever Retry-After says, up to two minutes per attempt. Here no retry starts
  more than `max_wait` seconds after a call's first request; a provider asking for more gets a clear error at once,
  not a long silence.
- say what went wrong in words an operator acts on, with configured secrets redacted from upstream text.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import openai

from rag.errors import BackendError
from rag.redact import redact

log = logging.getLogger(__name__)

T = TypeVar("T")
Describe = Callable[[Exception], BackendError]

# openai-python's schedule (`_constants.py`: INITIAL_RETRY_DELAY, MAX_RETRY_DELAY).
_FIRST_DELAY = 0.5
_LONGEST_DELAY = 8.0
_DETAIL_CHARS = 300


def retryable_status(status: int) -> bool:
    """The statuses openai-python retries: request timeout, lock conflict, rate limit, server errors."""
    return status in (408, 409, 429) or status >= 500


def retry_after_seconds(headers: Mapping[str, str] | Any) -> float | None:
    """Seconds a response asks to wait (retry-after-ms, then Retry-After in seconds or as an HTTP date)."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        return seconds if math.isfinite(seconds) else math.inf
    try:
        parsed = email.utils.parsedate_to_datetime(headers.get("retry-after") or "")
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def backoff_delay(retry: int) -> float:
    """The wait before retry number `retry` (0-based) when the server does not say: the SDK's schedule."""
    return min(_FIRST_DELAY * 2.0 ** min(retry, 32), _LONGEST_DELAY) * (1 - 0.25 * random.random())


def describe_api_error(
    exc: Exception, where: str, *, secrets: Sequence[str] = (), hints: Mapping[int, str] | None = None
) -> BackendError:
    """An SDK error as a BackendError saying what an operator should do, with `secrets` redacted from the
    upstream text (a 401 body may echo the key it refused)."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        hint = (hints or {}).get(status) or _status_hint(status)
        detail = _upstream_detail(exc)
        message = f"{where}: {hint}: {detail}" if detail else f"{where}: {hint}"
        return BackendError(redact(message, secrets), status=status, retryable=_should_retry(exc))
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(f"{where}: timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(redact(f"{where}: cannot connect ({exc.__cause__ or exc})", secrets), retryable=True)
    return BackendError(redact(f"{where}: {type(exc).__name__}: {exc}", secrets)[:_DETAIL_CHARS])


def _status_hint(status: int) -> str:
    if status == 429:
        return "rate limited (429)"
    if status >= 500:
        return f"the server failed ({status})"
    if status == 408:
        return "the server timed out the request (408)"
    return f"the request failed ({status})"


def _should_retry(exc: openai.APIStatusError) -> bool:
    told = exc.response.headers.get("x-should-retry")  # non-standard; the SDK obeys it, so do we
    if told in ("true", "false"):
        return told == "true"
    return retryable_status(exc.status_code)


def _upstream_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:_DETAIL_CHARS]
    return ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Per call: at most `max_retries + 1` requests, and no retry that would start more than `max_wait` seconds
    after the first request."""

    max_retries: int = 3
    max_wait: float = 20.0
    wait_setting: str = "RAGBOT_LLM__MAX_WAIT"  # named in the give-up message, so an operator knows the knob

    async def run(self, attempt: Callable[[], Awaitable[T]], describe: Describe) -> T:
        """`attempt()` until it succeeds or the budget is spent; failures become BackendErrors via `describe`."""
        budget = _Budget(self)
        while True:
            try:
                return await attempt()
            except Exception as exc:  # `describe` decides what is retryable; the rest is raised at once
                wait = budget.wait_after(exc, describe)
            await asyncio.sleep(wait)

    def run_sync(self, attempt: Callable[[], T], describe: Describe) -> T:
        """`run` for blocking callers (the embedder runs in a worker thread)."""
        budget = _Budget(self)
        while True:
            try:
                return attempt()
            except Exception as exc:
                wait = budget.wait_after(exc, describe)
            time.sleep(wait)


class _Budget:
    """What one call has spent: requests made and time since the first one."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.requests = 0
        # The asker waits through failed attempts (a read timeout) as well as the pauses between them.
        self.started = time.monotonic()

    def wait_after(self, exc: Exception, describe: Describe) -> float:
        """Seconds to wait before the next request; raises the described error when there is to be none."""
        self.requests += 1
        error = describe(exc)
        if not error.retryable or self.requests > self.policy.max_retries:
            raise error from exc
        asked = retry_after_seconds(getattr(getattr(exc, "response", None), "headers", None))
        wait = asked if asked is not None and asked > 0 else backoff_delay(self.requests - 1)
        spent = time.monotonic() - self.started
        if spent + wait > self.policy.max_wait:
            raise self._give_up(error, asked, wait, spent) from exc
        log.warning("%s; retrying in %.1f s (%d/%d)", error, wait, self.requests, self.policy.max_retries)
        return wait

    def _give_up(self, error: BackendError, asked: float | None, wait: float, spent: float) -> BackendError:
        cap = f"{self.policy.wait_setting} = {self.policy.max_wait:g} s" if self.policy.wait_setting else "the cap"
        if asked is not None and asked == wait:
            shown = "a very long time" if math.isinf(asked) else f"{asked:.1f}".removesuffix(".0") + " s"
            reason = f"the provider asked to wait {shown} before retrying, longer than one answer may wait ({cap})"
        else:
            reason = f"gave up after {spent:.1f} s of failed attempts ({cap})"
        return BackendError(f"{error}; {reason}", status=error.status)
