"""The one orchestrator: validates questions, searches, answers. Async; blocking work runs in threads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import QuestionError
from rag.extractive import extractive_answer
from rag.index import open_index
from rag.ingest import IngestReport, ProgressHook, ingest
from rag.retrieval import Retriever

if TYPE_CHECKING:
    from rag.config import ChunkingSettings, RetrievalSettings, Settings
    from rag.embeddings import Embedder
    from rag.index import Index
    from rag.types import Answer, SearchResult

log = logging.getLogger(__name__)


def validate_question(question: str, max_chars: int) -> str:
    text = " ".join(question.split())
    if not text:
        raise QuestionError("The question is empty: ask something about the sources.")
    if len(text) > max_chars:
        raise QuestionError(
            f"That question is {len(text):,} characters long; the limit is {max_chars:,}. Please shorten it."
        )
    return text


class RagService:
    def __init__(
        self,
        *,
        index: Index,
        retrieval: RetrievalSettings,
        chunking: ChunkingSettings,
        corpus_dir: Path,
    ) -> None:
        self.index = index
        self.retrieval = retrieval
        self.chunking = chunking
        self.corpus_dir = corpus_dir
        self.retriever = Retriever(index, retrieval)

    # --- ingestion ---------------------------------------------------------------------------------
    def ingest_sync(
        self,
        paths: Sequence[Path] | None = None,
        *,
        rebuild: bool = False,
        progress: ProgressHook | None = None,
    ) -> IngestReport:
        return ingest(self.index, paths or [self.corpus_dir], self.chunking, rebuild=rebuild, progress=progress)

    def prepare_sync(self, progress: ProgressHook | None = None) -> IngestReport | None:
        """Before the first search: ingest the corpus if the index is empty, embed what lacks vectors,
        and refuse an index built by another embedder. Returns the report if it ingested."""
        self.index.check_embedder()
        if self.index.catalog.chunk_count() == 0:
            log.info("the index is empty: ingesting %s", self.corpus_dir)
            return self.ingest_sync(progress=progress)
        if self.index.missing_vectors():
            return self.ingest_sync(progress=progress)
        return None

    async def prepare(self, progress: ProgressHook | None = None) -> IngestReport | None:
        return await asyncio.to_thread(self.prepare_sync, progress)

    # --- questions ---------------------------------------------------------------------------------
    async def search(self, query: str, k: int | None = None) -> SearchResult:
        text = validate_question(query, self.retrieval.max_question_chars)
        return await asyncio.to_thread(self.retriever.search, text, k)

    async def answer(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Until a chat model is configured: the extractive answer (history is not used yet)."""
        text = validate_question(question, self.retrieval.max_question_chars)
        return await asyncio.to_thread(self._extractive, text)

    def _extractive(self, question: str) -> Answer:
        result = self.retriever.search(question)
        return extractive_answer(question, result, self._score_sentences)

    def _score_sentences(self, question: str, sentences: Sequence[str]) -> list[float]:
        lexical = self.index.lexical()
        overlap = [lexical.coverage(question, s) for s in sentences]
        if self.index.embedder is None:
            return overlap
        vectors = self.index.embedder.embed([question, *sentences])
        similarity = vectors[1:] @ vectors[0]
        # Meaning first; shared rare words break ties between sentences that say much the same.
        return list(np.asarray(similarity) + 0.25 * np.asarray(overlap))


def build_service(settings: Settings, *, embedder: Embedder | None = None) -> RagService:
    """Open the index under the data dir and build the service on it."""
    index = open_index(settings, embedder=embedder)
    return RagService(
        index=index, retrieval=settings.retrieval, chunking=settings.chunking, corpus_dir=settings.corpus_dir
    )
