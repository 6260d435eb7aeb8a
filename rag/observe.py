"""What the running bot reports about itself, as a small protocol the core owns.

The core records at its boundaries (a model request and its retries, a fallback taking over, the time a search
took, the tokens an answer used) and the bot records what only it knows (how a question arrived, how it ended, a
vote). Nothing here knows Prometheus: `ragbot.metrics` implements `Observer` with it, and everything defaults to
`NULL_OBSERVER`, so the CLI, the evaluation and the tests that do not look at metrics pay nothing.

Label values are fixed vocabularies (`Outcome`, `Entry`, `RequestStatus`): a metrics backend must never turn a
user id, a question or a guild id into a label, so only these names (and configured model names) are passed.

`current_answer_id` ties the log lines of one question together: the bot (or the CLI) sets it for the answer in
progress, and `AnswerIdFilter` copies it onto every log record made meanwhile (asyncio tasks and
`asyncio.to_thread` carry context variables along).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from rag.types import Answer, Usage

Outcome = Literal["answered", "refused", "faq", "extractive", "error", "busy"]
Entry = Literal["slash", "mention", "thread", "reply", "forum", "cli"]
RequestStatus = Literal["ok", "rate_limited", "server_error", "client_error", "timeout", "connection", "bad_stream"]

current_answer_id: ContextVar[str | None] = ContextVar("ragbot_answer_id", default=None)


class Observer(Protocol):
    def model_request(self, provider: str, status: RequestStatus) -> None:
        """One HTTP request to a chat model ended (a streamed one counts once its first piece arrived)."""
        ...

    def model_retry(self, provider: str) -> None:
        """A failed request is about to be retried."""
        ...

    def fallback_used(self) -> None:
        """The primary model failed and a fallback served the answer."""
        ...

    def tokens(self, model: str, usage: Usage) -> None:
        """The tokens one answer used, as the model reported them."""
        ...

    def retrieval(self, seconds: float) -> None:
        """One search (including a follow-up's rewrite) took this long."""
        ...

    def budget_exhausted(self) -> None:
        """A server's daily token budget was spent: this question gets the extractive answer."""
        ...

    def first_token(self, seconds: float) -> None:
        """The first words of an answer appeared this long after the question arrived."""
        ...

    def question(self, outcome: Outcome, entry: Entry, seconds: float) -> None:
        """A question ended, answered or not, this long after it arrived."""
        ...

    def vote(self, up: bool) -> None: ...


class NullObserver:
    """Records nothing: the default wherever no metrics backend is configured."""

    def model_request(self, provider: str, status: RequestStatus) -> None:
        pass

    def model_retry(self, provider: str) -> None:
        pass

    def fallback_used(self) -> None:
        pass

    def tokens(self, model: str, usage: Usage) -> None:
        pass

    def retrieval(self, seconds: float) -> None:
        pass

    def budget_exhausted(self) -> None:
        pass

    def first_token(self, seconds: float) -> None:
        pass

    def question(self, outcome: Outcome, entry: Entry, seconds: float) -> None:
        pass

    def vote(self, up: bool) -> None:
        pass


NULL_OBSERVER: Observer = NullObserver()


def outcome_of(answer: Answer) -> Outcome:
    """How an answer ended, in the metrics' vocabulary (decided from the core's own labels)."""
    if answer.refused:
        return "refused"
    if answer.mode == "faq":
        return "faq"
    if answer.mode == "extractive":
        return "extractive"
    return "answered"


def request_status(exc: BaseException | None) -> RequestStatus:
    """A failed request's kind; None is a success."""
    if exc is None:
        return "ok"
    import openai  # here: the SDK is slow to import, and only a failed request (which loaded it) gets here

    if isinstance(exc, openai.APITimeoutError):  # a subclass of APIConnectionError: checked first
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        return "rate_limited" if code == 429 else "server_error" if code >= 500 else "client_error"
    return "bad_stream"  # an unparsable chunk or an error event before the first piece


class AnswerIdFilter(logging.Filter):
    """Puts the id of the answer in progress on each record (`record.answer_id`, None outside an answer).
    Put it on handlers, like the redaction filter: records propagating from child loggers skip logger filters."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.answer_id = current_answer_id.get()
        return True
