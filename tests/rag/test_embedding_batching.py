"""Coalescing concurrent question embeddings (rag.embeddings.batching) with the real ONNX model."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
from fakes.openai_server import FakeOpenAI

from rag.config import EmbeddingSettings
from rag.embeddings import build_embedder
from rag.embeddings.batching import BatchingEmbedder
from rag.embeddings.onnx import OnnxEmbedder
from rag.errors import EmbeddingError

QUESTIONS = [
    "Who founded DeepSeek?",
    "Why did Nvidia's stock fall in January 2025?",
    "What does the EU AI Act require of general-purpose models?",
    "How much did it cost to train DeepSeek V3?",
    "What chips are covered by the US export controls?",
    "Did OpenAI accuse DeepSeek of distillation?",
    "What is a mixture of experts model, and why is it cheaper to run?",
    "Which company makes the H800?",
] * 3  # each question asked by three people at once


def _at_once(embedder: BatchingEmbedder, texts: list[str]) -> list[npt.NDArray[np.float32]]:
    """Every text embedded by its own thread, all released together (a burst of questions)."""
    start = threading.Barrier(len(texts))

    def one(text: str) -> npt.NDArray[np.float32]:
        start.wait()
        vector: npt.NDArray[np.float32] = embedder.embed([text])[0]
        return vector

    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(one, texts))


def test_questions_asked_at_once_get_the_vectors_they_get_alone(onnx_embedder: OnnxEmbedder) -> None:
    batching = BatchingEmbedder(onnx_embedder)
    together = _at_once(batching, QUESTIONS)
    for question, vector in zip(QUESTIONS, together, strict=True):
        alone = onnx_embedder.embed([question])[0]
        assert np.allclose(vector, alone, atol=1e-5), question
    # 24 calls, 8 distinct questions: fewer model runs than calls, and no question embedded twice.
    assert batching.model_runs < len(QUESTIONS) and batching.coalesced_texts == len(set(QUESTIONS))


def test_a_repeated_question_reuses_its_vector_and_callers_cannot_spoil_it(onnx_embedder: OnnxEmbedder) -> None:
    batching = BatchingEmbedder(onnx_embedder)
    first = batching.embed([QUESTIONS[0]])
    first *= 0  # a caller scaling its row in place
    again = batching.embed([QUESTIONS[0]])
    assert batching.model_runs == 1
    assert np.allclose(again, onnx_embedder.embed([QUESTIONS[0]]), atol=1e-6)


def test_several_texts_in_one_call_go_straight_to_the_model(onnx_embedder: OnnxEmbedder) -> None:
    batching = BatchingEmbedder(onnx_embedder)
    vectors = batching.embed(QUESTIONS[:5])
    assert vectors.shape == (5, onnx_embedder.dimension) and batching.model_runs == 0
    assert np.allclose(vectors, onnx_embedder.embed(QUESTIONS[:5]), atol=1e-6)


async def test_a_failed_run_reaches_every_question_waiting_on_it() -> None:
    async with FakeOpenAI(embedding_dim=32) as fake:
        fake.embedding_budget = 0  # every embedding request gets a 400
        batching = build_embedder(EmbeddingSettings(backend="openai", base_url=fake.base_url, model="fake-embed"))
        assert isinstance(batching, BatchingEmbedder)
        outcomes = await asyncio.gather(
            *(asyncio.to_thread(batching.embed, [q]) for q in QUESTIONS[:6]), return_exceptions=True
        )
        assert all(isinstance(o, EmbeddingError) and "embedding endpoint failed" in str(o) for o in outcomes)
        fake.embedding_budget = None  # the endpoint recovers: nothing failed is remembered
        vectors = await asyncio.to_thread(batching.embed, [QUESTIONS[0]])
        assert vectors.shape == (1, 32)


def test_only_the_latest_questions_are_remembered(onnx_embedder: OnnxEmbedder) -> None:
    batching = BatchingEmbedder(onnx_embedder, remember=2)
    for question in QUESTIONS[:3]:
        batching.embed([question])
    batching.embed([QUESTIONS[0]])  # forgotten: the two later ones pushed it out
    assert batching.model_runs == 4
