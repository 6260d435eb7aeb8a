"""Embedders: a small protocol, two implementations, and one function that picks by setting."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from rag.config import EmbeddingSettings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors. Synchronous: async callers use asyncio.to_thread."""

    @property
    def name(self) -> str:
        """Identifies the model; the index records it so a different embedder is caught."""
        ...

    @property
    def dimension(self) -> int:
        """The vector size; a remote embedder may have to ask its server."""
        ...

    @property
    def known_dimension(self) -> int | None:
        """The vector size if known without a network call."""
        ...

    @property
    def max_tokens(self) -> int:
        """The model's input window, in its own tokens (special tokens included)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in the model's window, counted with the model's own tokenizer."""
        ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """A (len(texts), dimension) float32 array of unit vectors."""
        ...


def build_embedder(settings: EmbeddingSettings) -> Embedder:
    """The configured embedder, its concurrent small calls coalesced (rag.embeddings.batching). Raises
    EmbedderUnavailable when the model cannot be had."""
    from rag.embeddings.batching import BatchingEmbedder

    return BatchingEmbedder(_backend(settings))


def _backend(settings: EmbeddingSettings) -> Embedder:
    if settings.backend == "onnx":
        from rag.embeddings.onnx import OnnxEmbedder, resolve_model_dir

        return OnnxEmbedder(resolve_model_dir(settings), batch_size=settings.batch_size, threads=settings.threads)
    if settings.backend == "openai":
        from rag.embeddings.openai_compat import OpenAIEmbedder

        return OpenAIEmbedder(
            base_url=settings.base_url,
            model=settings.model,
            api_key=settings.api_key.get_secret_value() if settings.api_key else "",
            batch_size=settings.batch_size,
            timeout=settings.timeout,
        )
    raise ValueError(f"unknown embedding backend {settings.backend!r} (choose onnx or openai)")
