"""One answer in progress, and the one place an answer stream is consumed (in the spirit of simonw/llm's
`Response`): iterate it for the live events, or await it for the final `Answer`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING, Any

from rag.types import Delta, Final, Thinking

if TYPE_CHECKING:
    from rag.types import Answer, AnswerEvent, Usage


class AnswerStream:
    """`async for event in stream` yields Thinking and Delta as they arrive, with `draft` holding the answer
    text so far; `await stream` (or `await stream.answer()`) runs it to the end and returns the Answer, whose
    text has its citations renumbered and checked. It runs once: after the end, both give the same Answer."""

    def __init__(self, events: AsyncIterator[AnswerEvent]) -> None:
        self._events = events
        self._draft = ""
        self._thinking = False
        self._answer: Answer | None = None

    @property
    def draft(self) -> str:
        """The answer text generated so far (empty while the model searches or reasons)."""
        return self._draft

    @property
    def thinking(self) -> bool:
        """The model has reasoned before writing (a reasoning model); its reasoning is never shown."""
        return self._thinking

    @property
    def done(self) -> bool:
        return self._answer is not None

    @property
    def usage(self) -> Usage | None:
        """Tokens the model reported; None before the end or when it reported none."""
        return self._answer.usage if self._answer is not None else None

    @property
    def text(self) -> str:
        """The final answer's text once done, the draft before."""
        return self._answer.text if self._answer is not None else self._draft

    def __aiter__(self) -> AsyncIterator[Thinking | Delta]:
        return self._live()

    async def _live(self) -> AsyncIterator[Thinking | Delta]:
        async for event in self._events:
            if isinstance(event, Final):
                self._answer = event.answer
                continue
            if isinstance(event, Delta):
                self._draft += event.text
            else:
                self._thinking = True
            yield event
        if self._answer is None:
            raise RuntimeError("the answer stream ended without its final answer")

    async def answer(self) -> Answer:
        """The final answer, running the rest of the stream if needed."""
        if self._answer is None:
            async for _ in self._live():
                pass
        assert self._answer is not None  # _live raises otherwise
        return self._answer

    def __await__(self) -> Generator[Any, None, Answer]:
        return self.answer().__await__()
