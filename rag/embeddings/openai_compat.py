"""Embeddings from any OpenAI-compatible /v1/embeddings endpoint, through the official SDK."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

import numpy as np
import numpy.typing as npt
import openai

from rag.errors import BackendError, EmbeddingError
from rag.http_clients import http_client
from rag.retry import RetryPolicy, describe_api_error
from rag.tokens import count_tokens

log = logging.getLogger(__name__)

_WINDOW = 8191  # OpenAI's embedding models; other servers are usually larger, never smaller than our chunks


_HINTS = {
    401: "the API key was rejected (401): check RAGBOT_EMBEDDING__API_KEY",
    404: "not found (404): check RAGBOT_EMBEDDING__BASE_URL and RAGBOT_EMBEDDING__MODEL",
}


class OpenAIEmbedder:
    """Calls `POST {base_url}/embeddings`, retrying as the chat model does (rag.retry: one policy)."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str,
        batch_size: int = 64,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        # Local servers take any key; the SDK insists on a non-empty one. rag.retry says why its loop, not the SDK's.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=0,
            http_client=http_client(),
        )
        # A question's embedding is waited for like its answer, so the same caps apply (no settings of its own).
        self._retry = retry or RetryPolicy(wait_setting="")
        self._describe = partial(
            describe_api_error, where="embedding endpoint failed", secrets=(api_key,), hints=_HINTS
        )
        self._model = model
        self._batch_size = batch_size
        self._dimension: int | None = None

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    @property
    def known_dimension(self) -> int | None:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return _WINDOW

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            request = partial(self._client.embeddings.create, model=self._model, input=batch)
            try:
                response = self._retry.run_sync(request, self._describe)
            except BackendError as exc:
                raise EmbeddingError(str(exc)) from exc
            data = sorted(response.data, key=lambda d: d.index)
            if len(data) != len(batch):
                raise EmbeddingError(f"embedding endpoint returned {len(data)} vectors for {len(batch)} texts")
            rows.extend(d.embedding for d in data)
        if not rows:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        matrix = np.asarray(rows, dtype=np.float32)
        self._dimension = matrix.shape[1]
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = matrix / np.clip(norms, 1e-12, None)
        return unit
