"""The generative path: prompt, stream from the chat model, then parse and check the citations."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.answer_parts import refusal
from rag.citations import resolve_citations
from rag.prompting import NOT_COVERED, Prompt, Turn, build_prompt
from rag.text import clean_text
from rag.types import Answer, AnswerEvent, ChatEvent, Delta, Final, ServedBy, StreamCut, Thinking, Usage, UsageReport

if TYPE_CHECKING:
    from rag.config import LLMSettings
    from rag.index import Index
    from rag.llm import ChatModel
    from rag.types import SearchResult

log = logging.getLogger(__name__)

CUT_NOTE = "The model's answer was cut off (the connection broke); what arrived is shown."
EMPTY_ANSWER = "The model returned no answer. Please try again."


def _is_not_covered(text: str) -> bool:
    normal = text.replace("’", "'").strip().lower()
    return normal.startswith(NOT_COVERED.lower().rstrip(".")) or normal.startswith("my sources do not cover")


@dataclass(slots=True)
class _Reply:
    """What a chat stream said besides the live text: usage, who served it, what went wrong."""

    parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    served_by: str = ""
    notes: list[str] = field(default_factory=list)

    def record(self, event: ChatEvent) -> None:
        if isinstance(event, Delta):
            self.parts.append(event.text)
        elif isinstance(event, UsageReport):
            self.usage = event.usage
        elif isinstance(event, ServedBy):
            self.served_by = event.model
            self.notes.append(f"Answered by the fallback model {event.model}: the primary model failed.")
        elif isinstance(event, StreamCut):
            self.notes.append(CUT_NOTE)


async def generate(
    question: str,
    history: Sequence[Turn],
    result: SearchResult,
    chat: ChatModel,
    settings: LLMSettings,
    index: Index,
) -> AsyncIterator[AnswerEvent]:
    """Thinking and Delta as the model streams, then Final with the citations checked against the passages
    (`index` scores a claim against passage sentences the words alone do not settle)."""
    prompt = build_prompt(
        question,
        result.passages,
        history,
        context_window=settings.context_window,
        max_answer_tokens=settings.max_tokens,
        source_tokens=settings.source_tokens,
        history_tokens=settings.history_tokens,
    )
    reply = _Reply()
    async for event in chat.stream(prompt.messages, max_tokens=settings.max_tokens):
        reply.record(event)
        # Model output is untrusted text: broken Unicode would fail the answer log, escape sequences would
        # reach a terminal. The final text is cleaned whole, so a sequence split across pieces goes whole too.
        if isinstance(event, Delta):
            yield Delta(clean_text(event.text))
        elif isinstance(event, Thinking):
            yield Thinking(clean_text(event.text))
    # Read after the stream: a model picked from the server's list is named once it was resolved.
    model = reply.served_by or chat.name
    _log_usage(model, reply.usage, prompt.tokens)
    answer = await _checked_answer(clean_text("".join(reply.parts)).strip(), prompt, result, settings, index)
    yield Final(dataclasses.replace(answer, model=model, usage=reply.usage, notes=tuple(reply.notes)))


async def _checked_answer(
    text: str, prompt: Prompt, result: SearchResult, settings: LLMSettings, index: Index
) -> Answer:
    if _is_not_covered(text):
        return refusal(result, "generative", NOT_COVERED)
    if not text:
        return Answer(EMPTY_ANSWER, (), grounded=False, refused=False, mode="generative")
    resolved = await asyncio.to_thread(
        resolve_citations, text, prompt.passages, threshold=settings.support_threshold, similarity=index.similarity
    )
    return Answer(
        resolved.text,
        resolved.citations,
        grounded=bool(resolved.citations),
        refused=False,
        mode="generative",
        flagged=resolved.flagged,
    )


def _log_usage(model: str, usage: Usage | None, estimated_prompt: int) -> None:
    if usage is None:
        log.info("answer by %s: usage not reported (prompt about %d tokens)", model, estimated_prompt)
        return
    cache = ""
    if usage.cache_hit_tokens is not None:
        cache = f", cache hit {usage.cache_hit_tokens} / miss {usage.cache_miss_tokens}"
    log.info(
        "answer by %s: %d prompt + %d completion tokens%s",
        model,
        usage.prompt_tokens,
        usage.completion_tokens,
        cache,
    )
