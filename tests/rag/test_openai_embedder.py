from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from fakes.openai_server import FakeOpenAI

from rag.config import EmbeddingSettings
from rag.embeddings import build_embedder
from rag.embeddings.openai_compat import OpenAIEmbedder
from rag.errors import EmbeddingError
from rag.retry import RetryPolicy


async def test_batches_normalises_and_authenticates() -> None:
    async with FakeOpenAI(embedding_dim=48) as fake:
        settings = EmbeddingSettings(
            backend="openai", base_url=fake.base_url, model="fake-embed", api_key="sk-test-123", batch_size=2
        )
        embedder = build_embedder(settings)
        texts = ["export controls", "H800 GPUs", "export controls", "EU AI Act", "Nvidia sell-off"]
        vectors = await asyncio.to_thread(embedder.embed, texts)
        assert vectors.shape == (5, 48) and embedder.dimension == 48
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert np.allclose(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1])
        assert [len(r.json["input"]) for r in fake.embedding_requests] == [2, 2, 1]  # type: ignore[index]
        assert fake.embedding_requests[0].headers["authorization"] == "Bearer sk-test-123"
        assert embedder.name == "openai:fake-embed"


async def test_unknown_model_is_a_clear_error() -> None:
    async with FakeOpenAI() as fake:
        embedder = build_embedder(EmbeddingSettings(backend="openai", base_url=fake.base_url, model="nope"))
        with pytest.raises(EmbeddingError, match="embedding endpoint failed"):
            await asyncio.to_thread(embedder.embed, ["hello"])


async def test_retries_follow_the_one_policy() -> None:
    async with FakeOpenAI() as fake:
        embedder = OpenAIEmbedder(
            base_url=fake.base_url, model="fake-embed", api_key="", retry=RetryPolicy(max_retries=1)
        )
        fake.enqueue_embedding_error(503, message="Overloaded")
        vectors = await asyncio.to_thread(embedder.embed, ["export controls"])
        assert vectors.shape == (1, 64) and len(fake.embedding_requests) == 2
        for _ in range(3):
            fake.enqueue_embedding_error(503, message="Overloaded")
        with pytest.raises(EmbeddingError, match=r"server failed \(503\): Overloaded"):
            await asyncio.to_thread(embedder.embed, ["export controls"])
        assert len(fake.embedding_requests) == 4  # two more: max_retries + 1


async def test_a_long_retry_after_gives_up_at_once_and_the_key_is_redacted() -> None:
    async with FakeOpenAI() as fake:
        settings = EmbeddingSettings(backend="openai", base_url=fake.base_url, model="fake-embed", api_key="sk-emb-789")
        embedder = build_embedder(settings)
        fake.enqueue_embedding_error(429, message="Slow down, sk-emb-789", headers={"Retry-After": "3600"})
        started = time.monotonic()
        with pytest.raises(EmbeddingError) as caught:
            await asyncio.to_thread(embedder.embed, ["hello"])
        assert time.monotonic() - started < 5 and len(fake.embedding_requests) == 1
        assert "asked to wait 3600 s" in str(caught.value)
        assert "sk-emb-789" not in str(caught.value) and "Slow down, ***" in str(caught.value)
        fake.enqueue_embedding_error(401, message="Incorrect API key provided: {api_key}")
        with pytest.raises(
            EmbeddingError, match=r"check RAGBOT_EMBEDDING__API_KEY: Incorrect API key provided: \*\*\*$"
        ):
            await asyncio.to_thread(embedder.embed, ["hello"])
