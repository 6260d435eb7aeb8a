"""Questions in other languages: searched in English (a model translates), answered in the asker's language;
without a model, the answer says only English is understood. Real service, real openai SDK, loopback server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAI

from rag.answer_parts import ENGLISH_ONLY, ENGLISH_ONLY_NOTE, UNCHECKED_NOTE
from rag.config import Settings
from rag.embeddings import Embedder
from rag.prompting import SYSTEM_PROMPT, TRANSLATE_PROMPT, Turn
from rag.service import RagService, build_service

FRENCH = "Qui a fondé DeepSeek, et dans quelle ville ?"
ENGLISH_QUERY = "Who founded DeepSeek and in which city?"
FRENCH_ANSWER = "DeepSeek a été fondée par Liang Wenfeng [1]. Il a commencé dans un petit logement [1]."


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
def make_service(
    make_settings: Callable[..., Settings], indexed_article: Path, embedder: Embedder, fake: FakeOpenAI
) -> Callable[..., RagService]:
    """A service over the article (indexed already), with the loopback model or none."""

    def make(*, model: bool = True) -> RagService:
        llm: dict[str, Any] = {"provider": "custom", "base_url": fake.base_url, "model": "fake-chat"}
        service = build_service(make_settings(llm=llm if model else {}), embedder=embedder)
        service.prepare_sync()
        return service

    return make


async def test_a_french_question_is_searched_in_english_and_answered_in_french(
    fake: FakeOpenAI, make_service: Callable[..., RagService]
) -> None:
    service = make_service()
    fake.enqueue_reply(ENGLISH_QUERY)  # the translation
    fake.enqueue_reply(FRENCH_ANSWER)
    answer = await service.answer(FRENCH)

    translate, generate = (r.json or {} for r in fake.chat_requests)
    assert translate["messages"] == [
        {"role": "system", "content": TRANSLATE_PROMPT},
        {"role": "user", "content": f"Last message: {FRENCH}"},
    ]
    system, user = generate["messages"]
    assert system["content"] == SYSTEM_PROMPT and "Answer in the language the question is written in" in SYSTEM_PROMPT
    assert user["content"].rstrip().endswith(f"Question: {FRENCH}")  # the model reads the asker's own words
    first_source = re.search(r'<source n="1"[^>]*>\n(.*?)\n</source>', user["content"], re.S)
    assert first_source and "Liang Wenfeng" in first_source.group(1)  # the English query found the founder
    assert answer.text == FRENCH_ANSWER and answer.grounded and not answer.refused
    assert [c.title[:10] for c in answer.citations] == ["Will China"]
    # The second sentence shares no word with its English passage: not "unsupported", just not checkable.
    assert answer.flagged == () and answer.notes == (UNCHECKED_NOTE,)
    result = await _retrieved(service, fake, FRENCH)
    assert result == ENGLISH_QUERY
    await service.aclose()


async def _retrieved(service: RagService, fake: FakeOpenAI, question: str, history: tuple[Turn, ...] = ()) -> str:
    fake.enqueue_reply(ENGLISH_QUERY)
    return (await service.retrieve(question, history)).query


async def test_an_english_question_costs_no_translation_call(
    fake: FakeOpenAI, make_service: Callable[..., RagService]
) -> None:
    service = make_service()
    fake.enqueue_reply("DeepSeek was founded by Liang Wenfeng [1].")
    answer = await service.answer("Who founded DeepSeek, Liang Wenfeng?")
    assert len(fake.chat_requests) == 1 and answer.grounded
    await service.aclose()


async def test_a_french_follow_up_is_rewritten_with_its_conversation(
    fake: FakeOpenAI, make_service: Callable[..., RagService]
) -> None:
    service = make_service()
    history = (Turn("user", "Who founded DeepSeek?"), Turn("assistant", "Liang Wenfeng founded DeepSeek [1]."))
    assert await _retrieved(service, fake, "Et dans quelle ville a-t-il commencé ?", history) == ENGLISH_QUERY
    [rewrite] = fake.chat_requests
    content = (rewrite.json or {})["messages"][1]["content"]
    assert content.startswith("Conversation:\nUser: Who founded DeepSeek?\nAssistant: Liang Wenfeng founded")
    assert "in English" in (rewrite.json or {})["messages"][0]["content"]
    await service.aclose()


async def test_a_failed_translation_searches_the_question_as_written(
    fake: FakeOpenAI, make_service: Callable[..., RagService]
) -> None:
    service = make_service()
    fake.enqueue_error(400, message="bad request")  # not retried: the search goes on without the translation
    result = await service.retrieve(FRENCH)
    assert result.query == FRENCH and result.passages
    await service.aclose()


async def test_without_a_model_the_answer_says_only_english_is_understood(
    fake: FakeOpenAI, make_service: Callable[..., RagService]
) -> None:
    service = make_service(model=False)
    matched = await service.answer("Qui est Liang Wenfeng, le fondateur de DeepSeek ?")
    assert not matched.refused and matched.mode == "extractive" and matched.notes == (ENGLISH_ONLY_NOTE,)
    assert "DeepSeek was founded by Liang Wenfeng" in matched.text and matched.citations
    nothing = await service.answer("这家公司的创始人是谁？")
    assert nothing.refused and nothing.text == ENGLISH_ONLY and nothing.closest
    english = await service.answer("Who founded DeepSeek?")
    assert english.notes == () and "Liang Wenfeng" in english.text
    assert fake.chat_requests == []
    await service.aclose()
