from __future__ import annotations

import asyncio

import numpy as np
import pytest
from fakes.openai_server import FakeOpenAI

from rag.config import EmbeddingSettings
from rag.embeddings import build_embedder
from rag.errors import EmbeddingError


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
