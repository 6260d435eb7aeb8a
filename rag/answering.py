"""The generative path: prompt, stream from the chat model, then parse and check the citations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from rag.citations import Similarity, resolve_citations
from rag.extractive import closest_sources
from rag.llm import ReasoningPiece, ServedBy, StreamCut, TextPiece, UsageReport
from rag.prompting import NOT_COVERED, Turn, build_prompt
from rag.text import clean_text
from rag.types import Answer, AnswerEvent, Delta, Final, Thinking, Usage

if TYPE_CHECKING:
    from rag.config import LLMSettings
    from rag.llm import ChatModel
    from rag.types import SearchResult

log = logging.getLogger(__name__)

CUT_NOTE = "The model's answer was cut off (the connection broke); what arrived is shown."
EMPTY_ANSWER = "The model returned no answer. Please try again."


def _is_not_covered(text: str) -> bool:
    normal = text.replace("’", "'").strip().lower()
    return normal.startswith(NOT_COVERED.lower().rstrip(".")) or normal.startswith("my sources do not cover")


async def generate(
    question: str,
    history: Sequence[Turn],
    result: SearchResult,
    chat: ChatModel,
    settings: LLMSettings,
    similarity: Similarity | None = None,
) -> AsyncIterator[AnswerEvent]:
    prompt = build_prompt(
        question,
        result.passages,
        history,
        context_window=settings.context_window,
        max_answer_tokens=settings.max_tokens,
        source_tokens=settings.source_tokens,
        history_tokens=settings.history_tokens,
    )
    parts: list[str] = []
    usage: Usage | None = None
    notes: list[str] = []
    model = chat.name
    async for event in chat.stream(prompt.messages, max_tokens=settings.max_tokens):
        # Model output is untrusted text: broken Unicode would fail the answer log, escape sequences would
        # reach a terminal. The final text is cleaned whole, so a sequence split across pieces goes whole too.
        if isinstance(event, TextPiece):
            parts.append(event.text)
            yield Delta(clean_text(event.text))
        elif isinstance(event, ReasoningPiece):
            yield Thinking(clean_text(event.text))
        elif isinstance(event, UsageReport):
            usage = event.usage
        elif isinstance(event, ServedBy):
            model = event.model
            notes.append(f"Answered by the fallback model {event.model}: the primary model failed.")
        elif isinstance(event, StreamCut):
            notes.append(CUT_NOTE)
    model = chat.name if model.endswith(":?") else model  # the name is known once the model was resolved
    text = clean_text("".join(parts)).strip()
    _log_usage(model, usage, prompt.tokens)
    if _is_not_covered(text):
        answer = Answer(
            NOT_COVERED,
            (),
            grounded=False,
            refused=True,
            mode="generative",
            closest=closest_sources(result),
            model=model,
            usage=usage,
            notes=tuple(notes),
        )
    elif not text:
        answer = Answer(EMPTY_ANSWER, (), False, False, "generative", model=model, usage=usage, notes=tuple(notes))
    else:
        resolved = await asyncio.to_thread(
            resolve_citations, text, prompt.passages, threshold=settings.support_threshold, similarity=similarity
        )
        answer = Answer(
            resolved.text,
            resolved.citations,
            grounded=bool(resolved.citations),
            refused=False,
            mode="generative",
            model=model,
            usage=usage,
            notes=tuple(notes),
            flagged=resolved.flagged,
        )
    yield Final(answer)


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
