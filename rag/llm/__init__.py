"""Chat models: a small protocol, the events a stream yields, and the function that builds one from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from rag.types import Usage

if TYPE_CHECKING:
    from rag.config import LLMSettings

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


@dataclass(frozen=True, slots=True)
class ReasoningPiece:
    text: str


@dataclass(frozen=True, slots=True)
class TextPiece:
    text: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    usage: Usage


@dataclass(frozen=True, slots=True)
class StreamCut:
    """The stream broke after output had started; what arrived stands."""

    reason: str


@dataclass(frozen=True, slots=True)
class ServedBy:
    """A fallback model answered instead of the primary one."""

    model: str
    reason: str


ChatEvent = ReasoningPiece | TextPiece | UsageReport | StreamCut | ServedBy


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
