"""all-MiniLM-L6-v2 on onnxruntime + tokenizers: dynamic padding, batching, mean pooling. No torch."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from rag.config import DEFAULT_CHROMA_MODEL_DIR
from rag.errors import EmbedderUnavailable, EmbeddingError

if TYPE_CHECKING:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from rag.config import EmbeddingSettings

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
WINDOW = 256  # MiniLM's max_seq_length, [CLS] and [SEP] included
_REQUIRED = ("model.onnx", "tokenizer.json")


def missing_model_files(folder: Path) -> list[str]:
    """The files of a Hugging Face style ONNX folder (model.onnx, tokenizer.json) that `folder` lacks."""
    return [name for name in _REQUIRED if not (folder / name).is_file()]


def open_onnx_model(folder: Path, *, threads: int = 0) -> tuple[Tokenizer, ort.InferenceSession]:
    """The tokenizer and a CPU inference session of a model folder; the embedder and the re-ranker
    (rag.rerank) load theirs the same way. Raises what tokenizers or onnxruntime raise: callers say which model.
    The tokenizer is new (callers set its padding and truncation); the session is the process's one for that file."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    model = folder / "model.onnx"
    found = model.stat()
    file = (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)  # a model replaced on disk loads anew
    return tokenizer, _inference_session(str(model), file, threads)


@functools.lru_cache(maxsize=4)  # a process loads one or two models (the embedder, a re-ranker)
def _inference_session(model: str, file: tuple[int, int, int, int], threads: int) -> ort.InferenceSession:
    """One session per model file and thread count in a process. Building one costs ~0.12 s of CPU (the graph is
    optimised as it loads) and ~90 MB; once built it is read-only, and onnxruntime runs it from many threads at
    once. `file` only keys the cache. An error is raised each time, not kept."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    # Idle intra-op threads otherwise spin waiting for work: on a small shared machine that burnt about
    # twice the CPU per query embedding, taken from the event loop and the other answers (bench_load.py).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def resolve_model_dir(settings: EmbeddingSettings) -> Path:
    """The configured folder; else chroma's cache folder, fetched through chroma's embedding function if absent."""
    if settings.model_dir is not None:
        folder = settings.model_dir.expanduser()
        if missing := missing_model_files(folder):
            raise EmbedderUnavailable(f"embedding model folder {folder} lacks {', '.join(missing)}")
        return folder
    folder = DEFAULT_CHROMA_MODEL_DIR
    if not missing_model_files(folder):
        return folder
    if not settings.download:
        raise EmbedderUnavailable(f"no embedding model in {folder} and downloading is off")
    try:
        from chromadb.utils.embedding_functions import DefaultEmbeddingFunction

        log.info("fetching %s into %s", MODEL_NAME, folder.parent)
        # Chroma's public embedding function downloads (and checks) the same files on its first call.
        DefaultEmbeddingFunction()(["fetch the model"])
    except Exception as exc:  # offline machines fail here in several ways (DNS, TLS, HTTP)
        raise EmbedderUnavailable(
            f"no embedding model in {folder} and it could not be downloaded ({type(exc).__name__})"
        ) from exc
    if missing := missing_model_files(folder):
        raise EmbedderUnavailable(f"downloaded model folder {folder} lacks {', '.join(missing)}")
    return folder


class OnnxEmbedder:
    """Sentence embeddings from the ONNX export of all-MiniLM-L6-v2 (the same files chroma uses)."""

    def __init__(self, model_dir: Path, *, batch_size: int = 32, threads: int = 0) -> None:
        try:
            self._tokenizer, self._session = open_onnx_model(model_dir, threads=threads)
        except Exception as exc:  # a corrupt model file must not crash start-up
            raise EmbedderUnavailable(f"cannot load the embedding model in {model_dir}: {exc}") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=WINDOW)
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._batch_size = batch_size
        self._dimension = int(self._session.get_outputs()[0].shape[-1] or 384)
        self._warned_truncation = False

    @property
    def name(self) -> str:
        return f"onnx:{MODEL_NAME}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def known_dimension(self) -> int | None:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return WINDOW

    def count_tokens(self, text: str) -> int:
        encoding = self._tokenizer.encode(text)
        return len(encoding.ids) + sum(len(o.ids) - 2 for o in encoding.overflowing)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        # Sorting by length keeps similar lengths in one batch, so dynamic padding pads little.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            idx = order[start : start + self._batch_size]
            out[idx] = self._embed_batch([texts[i] for i in idx])
        return out

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        if any(e.overflowing for e in encodings) and not self._warned_truncation:
            self._warned_truncation = True
            log.warning("an input longer than %d word-pieces was truncated for embedding", WINDOW)
        width = max(len(e.ids) for e in encodings)  # dynamic padding: to the longest in this batch
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        try:
            hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._input_names})[0]
        except Exception as exc:
            raise EmbeddingError(f"embedding model failed: {exc}") from exc
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit
