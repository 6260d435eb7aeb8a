"""Model clients over HTTPS, as real providers serve them: the chat model (with a fallback) and the embedding
endpoint trust the CA bundle the SDK's own clients would (SSL_CERT_FILE here), through the one TLS context a
process shares, and a certificate nobody trusts is a clear error, not a traceback."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from fakes.openai_server import DEFAULT_REPLY, FakeOpenAI

from rag.config import EmbeddingSettings, LLMSettings
from rag.embeddings import build_embedder
from rag.embeddings.openai_compat import OpenAIEmbedder
from rag.errors import BackendError, EmbeddingError
from rag.http_clients import _tls_context
from rag.llm import build_chat_model
from rag.retry import RetryPolicy

QUESTION = [{"role": "user", "content": "Who founded DeepSeek?"}]


@pytest.fixture
def trusted_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[trustme.CA]:
    """A CA named by SSL_CERT_FILE. The shared context reads it once per process: emptied before and after."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    _tls_context.cache_clear()
    yield ca
    _tls_context.cache_clear()


def _https(ca: trustme.CA) -> FakeOpenAI:
    fake = FakeOpenAI()
    fake.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(fake.tls)
    return fake


def _chat_settings(fake: FakeOpenAI) -> LLMSettings:
    primary = {"provider": "custom", "base_url": fake.base_url, "model": "fake-chat", "max_retries": 0}
    return LLMSettings.model_validate(primary | {"fallbacks": [primary]})


async def test_chat_and_embeddings_over_https_trust_the_configured_bundle(trusted_ca: trustme.CA) -> None:
    async with _https(trusted_ca) as fake:
        assert fake.base_url.startswith("https://127.0.0.1:")
        chat = build_chat_model(_chat_settings(fake))
        assert chat is not None
        assert await chat.complete(QUESTION, max_tokens=50) == DEFAULT_REPLY
        fake.enqueue_error(503, message="Overloaded")  # the primary fails; its fallback, another client, answers
        assert await chat.complete(QUESTION, max_tokens=50) == DEFAULT_REPLY
        embedder = build_embedder(EmbeddingSettings(backend="openai", base_url=fake.base_url, model="fake-embed"))
        assert (await asyncio.to_thread(embedder.embed, ["export controls"])).shape == (1, 64)
        await chat.aclose()
    assert len(fake.chat_requests) == 3 and len(fake.embedding_requests) == 1


async def test_a_certificate_nobody_trusts_is_a_clear_error(trusted_ca: trustme.CA) -> None:
    async with _https(trustme.CA()) as fake:  # signed by a CA that SSL_CERT_FILE does not name
        chat = build_chat_model(_chat_settings(fake).model_copy(update={"fallbacks": []}))
        assert chat is not None
        with pytest.raises(BackendError, match=r"^custom fake-chat: cannot connect \(\[SSL: CERTIFICATE_VERIFY_FAILED"):
            await chat.complete(QUESTION, max_tokens=50)
        embedder = OpenAIEmbedder(
            base_url=fake.base_url, model="fake-embed", api_key="", retry=RetryPolicy(max_retries=0)
        )
        with pytest.raises(EmbeddingError, match=r"embedding endpoint failed.*CERTIFICATE_VERIFY_FAILED"):
            await asyncio.to_thread(embedder.embed, ["export controls"])
        await chat.aclose()
    assert fake.requests == []  # refused during the handshake: nothing reached the server
