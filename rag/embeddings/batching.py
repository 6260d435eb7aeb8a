"""Concurrent questions share one model run: single-text embedding calls (a question, a claim) made at the same
time from worker threads are coalesced into one batch, and the texts embedded last are remembered (a question is
embedded for the dense search and again for the sentence ranking; popular questions repeat across users).

Profiled with 50 new questions at once: 100 single-text calls, each a model run of its own from one of six worker
threads competing for two cores; with this wrapper about 25 runs of two texts (README, "Load")."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import EmbeddingError

if TYPE_CHECKING:
    import numpy.typing as npt

    from rag.embeddings import Embedder

log = logging.getLogger(__name__)

_MAX_BATCH = 64  # texts per coalesced run: larger runs pad more and keep the first caller waiting longer


@dataclass(eq=False)
class _Request:
    text: str
    vector: npt.NDArray[np.float32] | None = None
    error: Exception | None = None
    done: bool = False


class BatchingEmbedder:
    """An Embedder around another one. Blocking like it; safe to call from many threads at once.

    No timer: a lone call runs at once. While one run is in progress the calls arriving meanwhile queue, and the
    first of them runs them all together as soon as the model is free (leader/followers, on one condition)."""

    def __init__(self, inner: Embedder, *, remember: int = 512) -> None:
        self.inner = inner
        self._remember = remember
        self._recent: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()  # text -> unit vector
        self._pending: list[_Request] = []
        self._running = False
        self._cond = threading.Condition()
        self.model_runs = 0  # runs of the inner model for coalesced calls (the benchmark reports batch sizes)
        self.coalesced_texts = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def known_dimension(self) -> int | None:
        return self.inner.known_dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if len(texts) != 1:  # ingestion, a passage's sentences: batches already, and not worth remembering
            return self.inner.embed(texts)
        request = _Request(texts[0])
        with self._cond:
            if (known := self._recent.get(request.text)) is not None:
                self._recent.move_to_end(request.text)
                return known[None, :].copy()  # a copy: the remembered vector must not change with the caller's
            self._pending.append(request)
        while True:
            with self._cond:
                while self._running and not request.done:
                    self._cond.wait()
                if request.done:
                    return self._result(request)
                self._running = True  # this caller leads: it runs what is queued, its own call among the first
                batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
            self._lead(batch)

    def _lead(self, batch: list[_Request]) -> None:
        try:
            self._run(batch)
        finally:
            with self._cond:
                self._running = False
                self._cond.notify_all()

    def _run(self, batch: list[_Request]) -> None:
        """One model run for the batch's distinct texts; every call of the batch gets its row, or the error."""
        distinct = list(dict.fromkeys(request.text for request in batch))
        try:
            vectors = self.inner.embed(distinct)
        except Exception as exc:  # every waiting caller must learn of it, not only the one that ran the model
            with self._cond:
                for request in batch:
                    request.error, request.done = exc, True
            return
        rows = dict(zip(distinct, vectors, strict=True))
        with self._cond:
            self.model_runs += 1
            self.coalesced_texts += len(distinct)
            # Calls that queued the same text during this run (the same question from another user) are served too.
            served = batch + [r for r in self._pending if r.text in rows]
            self._pending = [r for r in self._pending if r.text not in rows]
            for request in served:
                request.vector, request.done = rows[request.text], True
            self._recent.update(rows)
            for text in rows:
                self._recent.move_to_end(text)
            while len(self._recent) > self._remember:
                self._recent.popitem(last=False)

    @staticmethod
    def _result(request: _Request) -> npt.NDArray[np.float32]:
        if request.error is not None:
            # A new exception per caller: one object raised in several threads would share its traceback.
            raise EmbeddingError(str(request.error)) from request.error
        assert request.vector is not None
        return request.vector[None, :].copy()
