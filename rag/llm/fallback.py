"""Trying chat models in order: the first that starts answering serves the question."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

from rag.errors import BackendError
from rag.llm import ChatEvent, ChatModel, Message, ServedBy
from rag.observe import NULL_OBSERVER, Observer

log = logging.getLogger(__name__)


class FallbackChatModel:
    def __init__(self, models: Sequence[ChatModel], *, observer: Observer = NULL_OBSERVER) -> None:
        if not models:
            raise ValueError("a fallback chain needs at least one model")
        self.models = list(models)
        self.observer = observer

    @property
    def name(self) -> str:
        return self.models[0].name

    async def aclose(self) -> None:
        for model in self.models:
            await model.aclose()

    async def list_models(self) -> list[str]:
        return await self.models[0].list_models()

    async def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None) -> AsyncIterator[ChatEvent]:
        failures: list[str] = []
        for position, model in enumerate(self.models):
            stream = model.stream(messages, max_tokens=max_tokens)
            try:
                first = await anext(stream)
            except StopAsyncIteration:
                return
            except BackendError as exc:
                log.warning("%s failed, trying the next model: %s", model.name, exc)
                failures.append(str(exc))
                continue
            if position:
                self.observer.fallback_used()
                yield ServedBy(model.name, failures[-1])
            yield first
            async for event in stream:
                yield event
            return
        raise BackendError("every configured model failed: " + " | ".join(failures))

    async def complete(self, messages: Sequence[Message], *, max_tokens: int) -> str:
        failures: list[str] = []
        for position, model in enumerate(self.models):
            try:
                reply = await model.complete(messages, max_tokens=max_tokens)
            except BackendError as exc:
                failures.append(str(exc))
                continue
            if position:
                self.observer.fallback_used()
            return reply
        raise BackendError("every configured model failed: " + " | ".join(failures))
