"""The one orchestrator: validates questions, searches, answers. Async; blocking work runs in threads."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer_parts import english_only, refusal, unchecked_language
from rag.budget import BUDGET_NOTE, day_start
from rag.dates import mark_outdated
from rag.errors import BackendError, QuestionError
from rag.extractive import extractive_answer
from rag.generative import generate
from rag.index import open_index
from rag.ingest import IngestReport, ProgressHook, chunker_signature, ingest
from rag.language import is_english
from rag.llm import build_chat_model
from rag.observe import NULL_OBSERVER, Observer
from rag.prompting import Turn, rewrite_messages
from rag.response import AnswerStream
from rag.retrieval import Retriever
from rag.stores.shared import shared_index_url
from rag.text import clean_text
from rag.types import Answer, AnswerEvent, Final
from rag.url_sources import FolderUrlRegistry
from rag.web import FetchPolicy
from rag.web_sources import SourceChange, WebSources

if TYPE_CHECKING:
    from rag.approved import ApprovedAnswers
    from rag.budget import TokenLedger
    from rag.catalog import DocumentRecord
    from rag.config import ChunkingSettings, LLMSettings, RetrievalSettings, Settings
    from rag.embeddings import Embedder
    from rag.index import Index
    from rag.llm import ChatModel
    from rag.types import Chunk, SearchResult
    from rag.url_sources import UrlRegistry

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
        spend: TokenLedger | None = None,
        observer: Observer = NULL_OBSERVER,
        url_sources: UrlRegistry | None = None,
        fetch_policy: FetchPolicy | None = None,
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
        self.spend = spend  # with llm.daily_tokens_per_guild: what each server has spent today
        self.observer = observer
        # Held by every writer of the index in this process (ingest, URL sources), in worker threads.
        self._write_lock = threading.Lock()
        self.web = (
            WebSources(
                index=index, registry=url_sources, policy=fetch_policy, chunking=chunking, write_lock=self._write_lock
            )
            if url_sources is not None and fetch_policy is not None
            else None
        )

    async def aclose(self) -> None:
        if self.chat is not None:
            await self.chat.aclose()
        await asyncio.to_thread(self.index.close)
        if self.web is not None:
            await asyncio.to_thread(self.web.registry.close)

    # --- ingestion ---------------------------------------------------------------------------------
    def ingest_sync(
        self,
        paths: Sequence[Path] | None = None,
        *,
        rebuild: bool = False,
        progress: ProgressHook | None = None,
    ) -> IngestReport:
        """Index the corpus files; URL sources the index lacks (after a rebuild) are indexed again from their
        stored copies, without downloading them."""
        with self._write_lock:
            rechunk = rebuild or self.index.catalog.get_meta("chunker") != chunker_signature(self.index, self.chunking)
            web = self.web
            return ingest(
                self.index,
                paths or [self.corpus_dir],
                self.chunking,
                root=self.corpus_dir,
                max_file_bytes=self.max_file_bytes,
                rebuild=rebuild,
                progress=progress,
                then=None if web is None else lambda report: web.restore_sync(report, rechunk=rechunk),
            )

    # --- sources from the web (rag.web_sources) ------------------------------------------------------------
    async def add_url(self, url: str) -> SourceChange:
        """Fetch a web page and make it a cited source (again, if it is one: then it is re-read). Never raises
        for a bad address or page: the result says what went wrong, and the index is left as it was."""
        if self.web is None:
            return SourceChange(url, "failed", "sources from URLs are not available here")
        return await self.web.add(url)

    async def remove_source(self, target: str) -> SourceChange:
        """Remove a URL source, named by its address or its id."""
        if self.web is None:
            return SourceChange(target, "failed", "sources from URLs are not available here")
        return await self.web.remove(target)

    async def refresh_urls(self) -> list[SourceChange]:
        """Download the URL sources again where their servers say they changed; one result per URL."""
        return [] if self.web is None else await self.web.refresh()

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

    # --- what is indexed -----------------------------------------------------------------------------
    async def sources(self) -> list[DocumentRecord]:
        """The indexed sources with their chunk counts, in id order."""
        return await asyncio.to_thread(self.index.catalog.documents)

    async def chunks(self, ids: Iterable[str]) -> dict[str, Chunk]:
        """The live chunks among `ids`, by id (a chunk gone since a re-ingest is simply absent)."""
        wanted = list(ids)
        return await asyncio.to_thread(self.index.catalog.get_chunks, wanted)

    # --- questions ---------------------------------------------------------------------------------
    async def search(self, query: str, k: int | None = None) -> SearchResult:
        """The passages for `query` as written."""
        text = validate_question(query, self.retrieval.max_question_chars)
        return await asyncio.to_thread(lambda: self.retriever.search(text, k))

    async def retrieve(self, question: str, history: Sequence[Turn] = (), k: int | None = None) -> SearchResult:
        """The passages for a question asked in a conversation; `result.query` is what was searched."""
        text = validate_question(question, self.retrieval.max_question_chars)
        return await self._retrieve(text, history, k, english=is_english(text))

    async def _retrieve(
        self, text: str, history: Sequence[Turn], k: int | None = None, *, english: bool, use_model: bool = True
    ) -> SearchResult:
        started = time.perf_counter()
        query = await self._standalone_query(text, history, english=english, use_model=use_model)
        # A follow-up is searched both as rewritten and as written: a rewrite can drift to the earlier topic. A
        # translated question only in English: its own words match nothing in the corpus but push noise up.
        also = [text] if query != text and english else []
        result = await asyncio.to_thread(lambda: self.retriever.search(query, k, also=also))
        self.observer.retrieval(time.perf_counter() - started)
        return result

    def ask(self, question: str, history: Sequence[Turn] = (), *, guild_id: int | None = None) -> AnswerStream:
        """The answer in progress: iterate it for the live text, or await it for the Answer."""
        return AnswerStream(self.answer_stream(question, history, guild_id=guild_id))

    async def answer(self, question: str, history: Sequence[Turn] = (), *, guild_id: int | None = None) -> Answer:
        """The whole answer (the end of `ask`)."""
        return await self.ask(question, history, guild_id=guild_id)

    async def answer_stream(
        self, question: str, history: Sequence[Turn] = (), *, guild_id: int | None = None
    ) -> AsyncIterator[AnswerEvent]:
        """Thinking / Delta events while a model generates, then Final(Answer). A question matching one of
        the guild's moderator-approved FAQ entries gets that entry at once; nothing relevant in the sources:
        a refusal, without calling the model; no model configured: the extractive answer (saying, for a question
        not in English, that only English is understood)."""
        text = validate_question(question, self.retrieval.max_question_chars)
        if (faq := await self.match_faq(text, guild_id)) is not None:
            yield Final(self._dated(faq))
            return
        spent = await self.over_budget(guild_id)  # before any model call, the follow-up rewrite included
        english = is_english(text)  # decided once per answer: search, rewrite and the answer's notes follow it
        result = await self._retrieve(text, history, english=english, use_model=not spent)
        if self.chat is None or spent:
            answer = await asyncio.to_thread(extractive_answer, text, result, self.index)
            if spent and not answer.refused:
                answer = dataclasses.replace(answer, notes=(*answer.notes, BUDGET_NOTE))
            yield Final(self._dated(answer if english else english_only(answer)))
            return
        if not result.relevant:
            yield Final(refusal(result, mode="generative"))
            return
        async for event in generate(text, history, result, self.chat, self.llm, self.index):
            if isinstance(event, Final):
                if event.answer.usage is not None:
                    self.observer.tokens(event.answer.model, event.answer.usage)
                yield Final(self._dated(event.answer if english else unchecked_language(event.answer)))
            else:
                yield event

    async def over_budget(self, guild_id: int | None) -> bool:
        """The server has used its daily token budget (never true without a budget or outside a server)."""
        budget = self.llm.daily_tokens_per_guild
        if budget is None or guild_id is None or self.spend is None or self.chat is None:
            return False
        if await self.spend.tokens_since(guild_id, day_start()) < budget:
            return False
        log.info("guild %s used its daily budget of %d tokens: answering extractively", guild_id, budget)
        self.observer.budget_exhausted()
        return True

    def extractive(self, question: str, result: SearchResult) -> Answer:
        """The answer given without a model, for `result` (blocking: it embeds sentences)."""
        return extractive_answer(question, result, self.index)

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
        """A follow-up ("and what did Trump say?") as a self-contained search query; a question in another
        language as an English one (the corpus is English), when a model can translate it."""
        return await self._standalone_query(question, history, english=is_english(question))

    async def _standalone_query(
        self, question: str, history: Sequence[Turn], *, english: bool, use_model: bool = True
    ) -> str:
        earlier = [t for t in history if t.role == "user"]
        if not earlier and english:
            return question
        if self.chat is not None and use_model and (self.llm.rewrite_followups or not english):
            try:
                rewritten = await self.chat.complete(rewrite_messages(question, history), max_tokens=80)
                rewritten = " ".join(clean_text(rewritten).split())
                if 0 < len(rewritten) <= self.retrieval.max_question_chars:
                    return rewritten
            except BackendError as exc:
                log.warning("query rewrite failed, searching without it: %s", exc)
        return followup_heuristic(question, earlier[-1].content) if earlier else question


_FOLLOWUP_WORDS = 12


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
    spend: TokenLedger | None = None,
    observer: Observer = NULL_OBSERVER,
) -> RagService:
    """Open the index under the data dir (unless given), build the chat model (if configured) and the service."""
    index = index if index is not None else open_index(settings, embedder=embedder)
    return RagService(
        index=index,
        retrieval=settings.retrieval,
        chunking=settings.chunking,
        corpus_dir=settings.corpus_dir,
        llm=settings.llm,
        chat=chat if chat is not None else build_chat_model(settings.llm, observer=observer),
        faqs=faqs,
        max_file_bytes=settings.ingest.max_file_bytes,
        spend=spend,
        observer=observer,
        url_sources=open_url_registry(settings),
        fetch_policy=FetchPolicy.from_settings(settings.ingest),
    )


def open_url_registry(settings: Settings) -> UrlRegistry:
    """The pages curators added: in the shared database when processes share the index (each must refresh and
    restore the same pages), else in the data folder."""
    shared = shared_index_url(settings)
    if shared is None:
        return FolderUrlRegistry(settings.data_dir / "url_sources")  # the embedded default: no PostgreSQL driver
    from rag.stores.url_registry_sql import SqlUrlRegistry

    return SqlUrlRegistry(shared)


def list_sources(settings: Settings) -> list[DocumentRecord]:
    """The indexed sources, read from the catalog alone: no embedding model, no vector store, no chat model."""
    index = open_index(settings, lexical_only=True)
    try:
        return index.catalog.documents()
    finally:
        index.close()
