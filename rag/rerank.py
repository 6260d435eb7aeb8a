"""Re-ranking: a cross-encoder reads the question and a passage together and scores how well the passage answers
it, which a bi-encoder (one vector per text) and BM25 cannot. Off unless RAGBOT_RETRIEVAL__RERANK_MODEL_DIR names
an ONNX model folder in the Hugging Face layout (model.onnx + tokenizer.json), e.g. an export of
cross-encoder/ms-marco-MiniLM-L-6-v2. Blocking: the retriever runs in worker threads."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.errors import ConfigError, RagError

if TYPE_CHECKING:
    import numpy.typing as npt

    from rag.config import RetrievalSettings

log = logging.getLogger(__name__)

SETTING = "RAGBOT_RETRIEVAL__RERANK_MODEL_DIR"
_DEFAULT_MAX_LENGTH = 512  # BERT-family cross-encoders (the ms-marco MiniLM ones among them)
_UNSET_MAX_LENGTH = 100_000  # Hugging Face writes a huge sentinel as model_max_length when it does not know it
_BATCH = 16  # pairs per model run: the 20 candidates of a question in two runs


class Reranker(Protocol):
    """Scores (query, passage) pairs: higher is more relevant. Synchronous: async callers use a worker thread."""

    @property
    def name(self) -> str:
        """Identifies the model in logs, `ragbot doctor` and the benchmark."""
        ...

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage, in the order given."""
        ...


def build_reranker(settings: RetrievalSettings) -> Reranker | None:
    """The configured re-ranker, None when off. ConfigError (one line naming the setting) when the folder is not
    a usable model: found at start, not on the first question."""
    if settings.rerank_model_dir is None:
        return None
    return OnnxCrossEncoder(settings.rerank_model_dir.expanduser())


def max_length(folder: Path) -> int:
    """The model's input window in tokens: the tokenizer's `model_max_length`, else the model's position
    embeddings, else 512. Not tokenizer.json's own truncation: exports often keep a shorter training length there."""
    for name, key in (("tokenizer_config.json", "model_max_length"), ("config.json", "max_position_embeddings")):
        try:
            value = json.loads((folder / name).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, int | float) and 8 <= value < _UNSET_MAX_LENGTH:
            return int(value)
    return _DEFAULT_MAX_LENGTH


class OnnxCrossEncoder:
    """A sequence-classification cross-encoder on onnxruntime + tokenizers. The pair is encoded as the tokenizer's
    pair template ([CLS] query [SEP] passage [SEP] for BERT), longest part truncated first to the model's window,
    as sentence-transformers' CrossEncoder does. The score is the logit of the relevance class: the only column of
    an (n, 1) output (ms-marco cross-encoders), the second ("relevant") of an (n, 2) one."""

    def __init__(self, folder: Path, *, batch_size: int = _BATCH, threads: int = 0) -> None:
        from rag.embeddings.onnx import missing_model_files, open_onnx_model

        if not folder.is_dir():
            raise ConfigError(f"{SETTING}: {folder} is not a folder (unset it to turn re-ranking off)")
        if missing := missing_model_files(folder):
            raise ConfigError(f"{SETTING}: {folder} lacks {', '.join(missing)} (an ONNX cross-encoder folder)")
        try:
            self._tokenizer, self._session = open_onnx_model(folder, threads=threads)
        except Exception as exc:  # tokenizers and onnxruntime raise their own types for a corrupt file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"{SETTING}: cannot load the model in {folder}: {first}") from None
        self._inputs = {i.name for i in self._session.get_inputs()}
        if "input_ids" not in self._inputs:
            raise ConfigError(f"{SETTING}: the model in {folder} takes no input_ids; not a text cross-encoder")
        output = self._session.get_outputs()[0]
        if not _classifier_shape(output.shape):
            raise ConfigError(
                f"{SETTING}: the model in {folder} outputs shape {output.shape}, not the (n, 1) or (n, 2) logits "
                "of a cross-encoder"
            )
        self._output = output.name
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_length(folder), strategy="longest_first")
        self._batch_size = batch_size
        self._name = f"onnx:{folder.name if folder.name not in ('onnx', '') else folder.parent.name}"

    @property
    def name(self) -> str:
        return self._name

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        scores: list[float] = []
        for start in range(0, len(passages), self._batch_size):
            scores += self._score_batch(query, passages[start : start + self._batch_size])
        return scores

    def _score_batch(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        encodings = self._tokenizer.encode_batch([(query, p) for p in passages])
        width = max(len(e.ids) for e in encodings)  # dynamic padding: to the longest pair of this batch
        feeds: dict[str, npt.NDArray[np.int64]] = {
            name: np.zeros((len(encodings), width), dtype=np.int64)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        }
        for row, e in enumerate(encodings):
            feeds["input_ids"][row, : len(e.ids)] = e.ids
            feeds["attention_mask"][row, : len(e.ids)] = 1
            feeds["token_type_ids"][row, : len(e.ids)] = e.type_ids
        try:
            output = self._session.run([self._output], {k: v for k, v in feeds.items() if k in self._inputs})[0]
        except Exception as exc:
            raise RagError(f"the re-ranking model failed: {exc}") from exc
        return _relevance(np.asarray(output), len(passages))


def _classifier_shape(shape: Sequence[Any]) -> bool:
    """Whether a declared output shape can be a classifier's logits: (n,), (n, 1) or (n, 2); a dimension that is a
    name (symbolic) is not known until the model runs."""
    return len(shape) == 1 or (len(shape) == 2 and (not isinstance(shape[1], int) or shape[1] in (1, 2)))


def _relevance(output: Any, n: int) -> list[float]:
    """The relevance column of a classifier's logits: (n,) or (n, 1) as they are, (n, 2) the second class."""
    logits = output.reshape(n, -1) if output.size % n == 0 else output
    if logits.ndim != 2 or logits.shape[1] > 2:
        raise RagError(f"the re-ranking model returned logits of shape {output.shape}; expected (n, 1) or (n, 2)")
    return [float(x) for x in logits[:, -1]]
