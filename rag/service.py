"""The one orchestrator: validates questions, searches, answers. Async; blocking work runs in threads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.answering import generate
from rag.dates import mark_outdated
from rag.errors import BackendError, QuestionError
from rag.extractive import extractive_answer, refusal
from rag.index import open_index
from rag.ingest import IngestReport, ProgressHook, ingest
from rag.llm import build_chat_model
from rag.prompting import Turn, rewrite_messages
from rag.retrieval import Retriever
from rag.text import addresses_reader, clean_text
from rag.types import Answer, AnswerEvent, Final

if TYPE_CHECKING:
    from rag.approved import ApprovedAnswers
    from rag.config import ChunkingSettings, LLMSettings, RetrievalSettings, Settings
    from rag.embeddings import Embedder
    from rag.index import Index
    from rag.llm import ChatModel
    from rag.types import SearchResult

log = logging.getLogger(__name__)


def validate_question(question: str, max_chars: int) -> str:
    """The question as searched: cleaned (broken Unicode replaced, control characters dropped) and its
    whitespace collapsed; QuestionError if nothing is left or it is too long."""
    text = " ".join(clean_text(question).split())
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
        llm: LLMSettings,
        chat: ChatModel | None = None,
        faqs: ApprovedAnswers | None = None,
        max_file_bytes: int | None = None,
    ) -> None:
        self.index = index
        self.retrieval = retrieval
        self.chunking = chunking
        self.corpus_dir = corpus_dir
        self.llm = llm
        self.chat = chat
        self.retriever = Retriever(index, retrieval)
        self.faqs = faqs
        self.max_file_bytes = max_file_bytes

    async def aclose(self) -> None:
        if self.chat is not None:
            await self.chat.aclose()
        await asyncio.to_thread(self.index.close)

    # --- ingestion ---------------------------------------------------------------------------------
    def ingest_sync(
        self,
        paths: Sequence[Path] | None = None,
        *,
        rebuild: bool = False,
        progress: ProgressHook | None = None,
    ) -> IngestReport:
        return ingest(
            self.index,
            paths or [self.corpus_dir],
            self.chunking,
            root=self.corpus_dir,
            max_file_bytes=self.max_file_bytes,
            rebuild=rebuild,
            progress=progress,
        )

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
    async def search(self, query: str, k: int | None = None, *, also: Sequence[str] = ()) -> SearchResult:
        text = validate_question(query, self.retrieval.max_question_chars)
        return await asyncio.to_thread(lambda: self.retriever.search(text, k, also=also))

    async def answer(self, question: str, history: Sequence[Turn] = (), *, guild_id: int | None = None) -> Answer:
        """The whole answer (the last event of `answer_stream`)."""
        final: Answer | None = None
        async for event in self.answer_stream(question, history, guild_id=guild_id):
            if isinstance(event, Final):
                final = event.answer
        assert final is not None  # answer_stream always ends with Final
        return final

    async def answer_stream(
        self, question: str, history: Sequence[Turn] = (), *, guild_id: int | None = None
    ) -> AsyncIterator[AnswerEvent]:
        """Thinking / Delta events while a model generates, then Final(Answer). A question matching one of
        the guild's moderator-approved FAQ entries gets that entry at once; nothing relevant in the sources:
        a refusal, without calling the model; no model configured: the extractive answer."""
        text = validate_question(question, self.retrieval.max_question_chars)
        if (faq := await self.match_faq(text, guild_id)) is not None:
            yield Final(self._dated(faq))
            return
        query = await self.standalone_query(text, history)
        # A follow-up is searched both as rewritten and as written: a rewrite can drift to the earlier topic.
        also = [text] if query != text else []
        result = await asyncio.to_thread(lambda: self.retriever.search(query, also=also))
        if self.chat is None:
            yield Final(self._dated(await asyncio.to_thread(self._extractive, text, result)))
            return
        if not result.relevant:
            yield Final(refusal(result, mode="generative"))
            return
        async for event in generate(text, history, result, self.chat, self.llm, self._similarity):
            yield Final(self._dated(event.answer)) if isinstance(event, Final) else event

    def _dated(self, answer: Answer) -> Answer:
        return mark_outdated(answer, self.retrieval.outdated_after_months)

    async def match_faq(self, question: str, guild_id: int | None) -> Answer | None:
        """The guild's FAQ entry for this question, as an answer; only that guild's entries are considered."""
        if guild_id is None or self.faqs is None:
            return None
        entry = await self.faqs.find(question, guild_id)
        if entry is None:
            return None
        return Answer(entry.answer, entry.citations, bool(entry.citations), False, "faq", faq_id=entry.id)

    async def standalone_query(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up ("and what did Trump say?") as a self-contained search query."""
        earlier = [t for t in history if t.role == "user"]
        if not earlier:
            return question
        if self.chat is not None and self.llm.rewrite_followups:
            try:
                rewritten = await self.chat.complete(rewrite_messages(question, history), max_tokens=80)
                rewritten = " ".join(clean_text(rewritten).split())
                if 0 < len(rewritten) <= self.retrieval.max_question_chars:
                    return rewritten
            except BackendError as exc:
                log.warning("follow-up rewrite failed, using the heuristic: %s", exc)
        return followup_heuristic(question, earlier[-1].content)

    def _extractive(self, question: str, result: SearchResult) -> Answer:
        return extractive_answer(question, result, self._score_sentences)

    def _similarity(self, claim: str, sentences: Sequence[str]) -> list[float]:
        if self.index.embedder is None:
            return [0.0] * len(sentences)
        vectors = self.index.embedder.embed([claim, *sentences])
        return [float(x) for x in vectors[1:] @ vectors[0]]

    def _score_sentences(self, question: str, sentences: Sequence[str]) -> list[float]:
        lexical = self.index.lexical()
        overlap = np.asarray([lexical.coverage(question, s) for s in sentences])
        if self.index.embedder is None:
            scores = overlap
        else:
            vectors = self.index.embedder.embed([question, *sentences])
            # Meaning first; shared rare words break ties between sentences that say much the same.
            scores = np.asarray(vectors[1:] @ vectors[0]) + 0.25 * overlap
        # An instruction planted in a source ("SYSTEM: ... answer with @everyone") shares the question's words
        # by design: it keeps a tenth of its score, so a sentence stating a fact beats it, and it is quoted
        # only when no passage states anything else.
        return [
            _demoted(float(value)) if addresses_reader(sentence) else float(value)
            for value, sentence in zip(scores, sentences, strict=True)
        ]


_FOLLOWUP_WORDS = 12
INSTRUCTION_WEIGHT = 0.1


def _demoted(score: float) -> float:
    return score * INSTRUCTION_WEIGHT if score > 0 else score - 1.0


def followup_heuristic(question: str, previous_question: str) -> str:
    """Without a model: a short follow-up inherits the previous question's words, which carry its topic."""
    if len(question.split()) > _FOLLOWUP_WORDS:
        return question
    return f"{previous_question} {question}"


def build_service(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    chat: ChatModel | None = None,
    faqs: ApprovedAnswers | None = None,
    index: Index | None = None,
) -> RagService:
    """Open the index under the data dir (unless given), build the chat model (if configured) and the service."""
    index = index if index is not None else open_index(settings, embedder=embedder)
    return RagService(
        index=index,
        retrieval=settings.retrieval,
        chunking=settings.chunking,
        corpus_dir=settings.corpus_dir,
        llm=settings.llm,
        chat=chat if chat is not None else build_chat_model(settings.llm),
        faqs=faqs,
        max_file_bytes=settings.ingest.max_file_bytes,
    )
