"""`ragbot doctor`: one check per component, each OK or the exact problem."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.errors import RagError
from ragbot.startup import plural

if TYPE_CHECKING:
    from pathlib import Path

    from rag.config import Settings
    from rag.embeddings import Embedder


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # a problem ragbot works around (keyword search without a model): exit 0


def render_check(check: Check) -> str:
    mark = "OK  " if check.ok else "WARN" if check.warning else "FAIL"
    return f"{mark} {check.name}: {check.detail}"


def failed(checks: list[Check]) -> bool:
    """True when a check failed outright; warnings alone leave ragbot working."""
    return any(not c.ok and not c.warning for c in checks)


def run_checks(settings: Settings) -> list[Check]:
    from rag.embeddings import build_embedder

    checks = [Check("configuration", True, f"data dir {settings.data_dir}, corpus {settings.corpus_dir}")]
    checks.append(_check_corpus(settings.corpus_dir))
    embedder = None
    try:
        embedder = build_embedder(settings.embedding)
        checks.append(Check("embedding model", True, f"{embedder.name}, {embedder.dimension} dimensions"))
    except RagError as exc:
        from rag.index import KEYWORD_ONLY_FIX

        detail = f"{exc}; ragbot answers with keyword search only. To fix: {KEYWORD_ONLY_FIX}"
        checks.append(Check("embedding model", False, detail, warning=True))
    checks += _check_index(settings, embedder)
    checks.append(_check_reranker(settings))
    checks.append(asyncio.run(_check_llm(settings)))
    return checks


def _check_corpus(corpus: Path) -> Check:
    from rag.loaders import SUPPORTED_SUFFIXES

    files = [p for p in corpus.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES] if corpus.is_dir() else []
    return Check(
        "corpus",
        bool(files),
        f"{plural(len(files), 'source file')} in {corpus}" if files else f"no sources in {corpus}",
    )


def _check_index(settings: Settings, embedder: Embedder | None) -> list[Check]:
    from rag.index import open_index

    checks: list[Check] = []
    try:
        index = open_index(settings, embedder=embedder, lexical_only=embedder is None)
        if index.store is not None:
            index.store.heartbeat()
            index.check_embedder()
            checks.append(Check("vector store", True, f"{index.store.location}, {index.store.count()} vectors"))
        documents, chunks = len(index.catalog.documents()), index.catalog.chunk_count()
        detail = f"{plural(documents, 'source')}, {plural(chunks, 'chunk')}" if chunks else "empty: run `ragbot ingest`"
        checks.append(Check("index", chunks > 0, detail))
        index.close()
    except RagError as exc:
        checks.append(Check("vector store", False, str(exc)))
    except Exception as exc:  # a chroma server that is down fails in transport-specific ways
        checks.append(Check("vector store", False, f"{type(exc).__name__}: {exc}"))
    return checks


def _check_reranker(settings: Settings) -> Check:
    from rag.rerank import build_reranker

    try:
        reranker = build_reranker(settings.retrieval)
    except RagError as exc:
        return Check("re-ranker", False, str(exc))
    if reranker is None:
        return Check("re-ranker", True, "off (RAGBOT_RETRIEVAL__RERANK_MODEL_DIR unset)")
    try:
        reranker.score("a test question", ["a test passage"])  # a model that loads may still fail to run
    except RagError as exc:
        return Check("re-ranker", False, str(exc))
    return Check("re-ranker", True, f"{reranker.name}, re-orders the best {settings.retrieval.rerank_top} candidates")


async def _check_llm(settings: Settings) -> Check:
    from rag.llm.openai_chat import OpenAIChatModel

    if settings.llm.provider == "none":
        return Check("language model", True, "none configured: answers are extractive")
    try:
        model = OpenAIChatModel.from_settings(settings.llm, settings.llm)
    except RagError as exc:
        return Check("language model", False, str(exc))
    try:
        available = await model.list_models()
    except RagError as exc:
        return Check("language model", False, str(exc))
    finally:
        await model.aclose()
    where = f"{settings.llm.provider} at {model.base_url}"
    wanted = settings.llm.model
    if wanted is None:
        first = available[0] if available else None
        return Check(
            "language model",
            bool(first),
            f"{where}: will use {first}, the first listed model"
            if first
            else f"{where} lists no models: set RAGBOT_LLM__MODEL",
        )
    if wanted in available:
        return Check("language model", True, f"{where}: model {wanted} is available")
    listed = ", ".join(available[:10]) + (" …" if len(available) > 10 else "")
    return Check("language model", False, f"{where}: model {wanted} is not listed (available: {listed})")
