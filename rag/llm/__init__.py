"""Chat models: a small protocol and the function that builds one from settings (events: `rag.types`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Protocol

from rag.types import ChatEvent, Delta, ServedBy, StreamCut, Thinking, UsageReport

__all__ = ["ChatEvent", "ChatModel", "Delta", "Message", "ServedBy", "StreamCut", "Thinking", "UsageReport"]

if TYPE_CHECKING:
    from rag.config import LLMSettings

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


def build_chat_model(settings: LLMSettings) -> ChatModel | None:
    """The configured model (with its fallbacks), or None when no provider is configured."""
    if settings.provider == "none":
        return None  # before the imports: the openai SDK alone costs ~0.7 s of start-up
    from rag.llm.fallback import FallbackChatModel
    from rag.llm.openai_chat import OpenAIChatModel

    primary = OpenAIChatModel.from_settings(settings, settings)
    if not settings.fallbacks:
        return primary
    backups = [OpenAIChatModel.from_settings(endpoint, settings) for endpoint in settings.fallbacks]
    return FallbackChatModel([primary, *backups])
