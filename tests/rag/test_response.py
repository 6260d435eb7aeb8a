"""The one consumer of an answer stream: live events while it runs, the same Answer however it is read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from rag.citations import MARKER
from rag.config import Settings
from rag.embeddings import Embedder
from rag.llm.scripted import ScriptedChatModel
from rag.response import AnswerStream
from rag.service import build_service
from rag.types import Answer, AnswerEvent, Delta, Final, Thinking, Usage

ANSWER = Answer("DeepSeek was founded in 2023. [1]", (), True, False, "generative", usage=Usage(120, 9))


async def _events(*events: AnswerEvent) -> AsyncIterator[AnswerEvent]:
    for event in events:
        yield event


async def test_iterating_shows_the_draft_as_it_grows_and_ends_with_the_answer() -> None:
    stream = AnswerStream(_events(Thinking("hmm"), Delta("DeepSeek was "), Delta("founded [1]"), Final(ANSWER)))
    seen = []
    async for event in stream:
        seen.append((type(event).__name__, stream.draft, stream.done))
    assert seen == [
        ("Thinking", "", False),
        ("Delta", "DeepSeek was ", False),
        ("Delta", "DeepSeek was founded [1]", False),
    ]
    assert stream.thinking and stream.done and stream.usage == Usage(120, 9)
    assert stream.text == ANSWER.text  # the final text replaces the draft once the answer is checked
    assert await stream is ANSWER and await stream.answer() is ANSWER  # reading it again gives the same answer


async def test_awaiting_runs_the_stream_to_its_answer() -> None:
    stream = AnswerStream(_events(Delta("x"), Final(ANSWER)))
    assert stream.usage is None and stream.text == ""
    assert await stream is ANSWER and stream.draft == "x" and not stream.thinking


async def test_a_stream_without_its_answer_is_an_error_not_a_silent_none() -> None:
    with pytest.raises(RuntimeError, match="without its final answer"):
        await AnswerStream(_events(Delta("half an answ")))


@pytest.mark.usefixtures("indexed_article")  # the article is indexed already (a private copy)
async def test_the_service_streams_the_scripted_model_and_cites_the_article(
    make_settings: Callable[..., Settings], article_corpus: Path, embedder: Embedder
) -> None:
    service = build_service(make_settings(), embedder=embedder, chat=ScriptedChatModel(piece_chars=8))
    try:
        await service.prepare()
        stream = service.ask("Who founded DeepSeek?")
        drafts = [stream.draft async for _ in stream]
        answer = await stream
    finally:
        await service.aclose()
    assert len(drafts) > 3 and drafts[-1].startswith("DeepSeek was founded by Liang Wenfeng")
    assert answer.mode == "generative" and answer.model == "scripted" and answer.usage is not None
    assert MARKER.search(answer.text) and answer.citations[0].title.startswith("Will China")
