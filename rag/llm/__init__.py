"""Chat models: a small protocol and the function that builds one from settings (events: `rag.types`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Protocol

from rag.types import ChatEvent, Delta, ServedBy, StreamCut, Thinking, UsageReport

__all__ = ["ChatEvent", "ChatModel", "Delta", "Message", "ServedBy", "StreamCut", "Thinking", "UsageReport"]

if TYPE_CHECKING:
    from rag.config import LLMSettings
    from rag.observe import Observer

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


class ChatModel(Protocol):
    @property
    def name(self) -> str:
        """provider:model, for logs and the answer's "model" field."""
        ...

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None) -> AsyncIterator[ChatEvent]:
        """Stream a reply. Raises BackendError if it fails before any output."""
        ...

    async def complete(self, messages: Sequence[Message], *, max_tokens: int) -> str:
        """A short non-streamed reply (reasoning removed)."""
        ...

    async def list_models(self) -> list[str]: ...

    async def aclose(self) -> None: ...


def build_chat_model(settings: LLMSettings, *, observer: Observer | None = None) -> ChatModel | None:
    """The configured model (with its fallbacks), or None when no provider is configured. `observer` hears
    about every request, retry and fallback."""
    if settings.provider == "none":
        return None  # before the imports: the openai SDK alone costs ~0.7 s of start-up
    from rag.llm.fallback import FallbackChatModel
    from rag.llm.openai_chat import OpenAIChatModel
    from rag.observe import NULL_OBSERVER

    seen = observer or NULL_OBSERVER
    primary = OpenAIChatModel.from_settings(settings, settings, observer=seen)
    if not settings.fallbacks:
        return primary
    backups = [OpenAIChatModel.from_settings(endpoint, settings, observer=seen) for endpoint in settings.fallbacks]
    return FallbackChatModel([primary, *backups], observer=seen)
