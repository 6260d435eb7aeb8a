"""Shared fixtures: real components on temporary folders. Nothing of ours is mocked."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    ARTICLE,
    CORPUS,
    EMBED_THREADS,
    FIRST_INGEST,
    IN_CI,
    REPO,
    DevSetRun,
    build_index,
    built_once,
    copy_index,
)
from warm_ragbot import MODELS as WARM_MODELS

from rag.config import DEFAULT_CHROMA_MODEL_DIR, EmbeddingSettings, Settings
from rag.embeddings import Embedder
from rag.embeddings.batching import BatchingEmbedder
from rag.embeddings.onnx import OnnxEmbedder, resolve_model_dir
from rag.errors import EmbedderUnavailable
from rag.evaluation import run_eval
from rag.golden import load_golden
from rag.ingest import IngestReport
from rag.llm.scripted import ScriptedChatModel
from rag.service import build_service

pytest_plugins = ["db_fixtures"]

# Read at import: the autouse `_clean_env` below clears every RAGBOT_* variable before each test runs.
_CONFIGURED_MODEL_DIR = os.environ.get("RAGBOT_EMBEDDING__MODEL_DIR", "")
# CI machines keep the model beside the repository (no network there).
_SHARED_MODEL_DIR = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2" / "onnx"


def find_model_dir() -> Path | None:
    """Where the tests find the embedding model: the folder the variable names; else the one CI ships beside
    the repository; else where the app itself looks when nothing is configured (chroma's cache folder, where
    `ragbot` downloads the model). None when no model is anywhere; a configured folder without one is an error."""
    if _CONFIGURED_MODEL_DIR:
        configured = EmbeddingSettings(model_dir=Path(_CONFIGURED_MODEL_DIR))
        try:
            return resolve_model_dir(configured)
        except EmbedderUnavailable as exc:
            raise pytest.UsageError(f"RAGBOT_EMBEDDING__MODEL_DIR is set but unusable: {exc}") from exc
    # The app's own lookup, with download=False: tests never reach the network.
    for settings in (EmbeddingSettings(model_dir=_SHARED_MODEL_DIR), EmbeddingSettings(download=False)):
        with contextlib.suppress(EmbedderUnavailable):
            return resolve_model_dir(settings)
    return None


_MODEL_DIR = find_model_dir()
if _MODEL_DIR is not None:
    WARM_MODELS.append(str(_MODEL_DIR))  # the commands' session, built once in the warm process
NO_MODEL = (
    f"no embedding model: run `ragbot ingest` once online (it downloads the model to {DEFAULT_CHROMA_MODEL_DIR}) "
    "or set RAGBOT_EMBEDDING__MODEL_DIR"
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their Settings explicitly; no RAGBOT_* variable of the caller's shell leaks in."""
    for name in list(os.environ):
        if name.startswith("RAGBOT_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The tests that need the model are skipped on a machine without one, but CI must run them all."""
    if _MODEL_DIR is None:
        if IN_CI:
            pytest.fail(f"CI must run every test: {NO_MODEL}")
        pytest.skip(NO_MODEL)
    return _MODEL_DIR


@pytest.fixture(scope="session")
def onnx_embedder(model_dir: Path) -> OnnxEmbedder:
    """The embedding model itself, for the tests of what wraps it."""
    return OnnxEmbedder(model_dir, threads=EMBED_THREADS)


@pytest.fixture(scope="session")
def embedder(onnx_embedder: OnnxEmbedder) -> Embedder:
    """The embedder the app builds (`rag.embeddings.build_embedder`): the model, its concurrent single-text calls
    coalesced and the latest of them remembered. Shared by the session's tests, as by a process's questions."""
    return BatchingEmbedder(onnx_embedder)


@pytest.fixture
def make_settings(tmp_path: Path, model_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "corpus_dir": tmp_path / "corpus",
            "embedding": {"model_dir": model_dir, "threads": EMBED_THREADS},
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the real corpus that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    yield target


@pytest.fixture
def article_corpus(tmp_path: Path) -> Path:
    """A corpus of the source article alone."""
    target = tmp_path / "corpus"
    target.mkdir()
    shutil.copy(ARTICLE, target / ARTICLE.name)
    return target


# --- indexes built once per session, copied into each test that reads them --------------------------------
@pytest.fixture(scope="session")
def _corpus_index(tmp_path_factory: pytest.TempPathFactory, model_dir: Path, embedder: Embedder) -> Path:
    root = built_once(tmp_path_factory, "corpus-index", lambda root: build_index(root, CORPUS, model_dir, embedder))
    return root / "data"


@pytest.fixture(scope="session")
def corpus_first_ingest(_corpus_index: Path) -> IngestReport:
    """What the first ingest of the whole corpus, the one `indexed_corpus` copies, reported."""
    report: IngestReport = pickle.loads((_corpus_index.parent / FIRST_INGEST).read_bytes())
    return report


@pytest.fixture(scope="session")
def _article_index(tmp_path_factory: pytest.TempPathFactory, model_dir: Path, embedder: Embedder) -> Path:
    root = built_once(tmp_path_factory, "article-index", lambda root: build_index(root, ARTICLE, model_dir, embedder))
    return root / "data"


# A test gets its own copy of the data folder, so tests never share state; ingesting again finds every file
# unchanged. The catalog's file paths name the session's copy: a test that deletes a file and expects ingest
# to notice builds its own index from `corpus_copy` / `article_corpus` instead.
@pytest.fixture
def indexed_corpus(corpus_copy: Path, _corpus_index: Path, tmp_path: Path) -> Path:
    """`corpus_copy`, already indexed in the data folder of `make_settings()`."""
    copy_index(_corpus_index, tmp_path / "data")
    return corpus_copy


@pytest.fixture
def indexed_article(article_corpus: Path, _article_index: Path, tmp_path: Path) -> Path:
    """`article_corpus`, already indexed in the data folder of `make_settings()`."""
    copy_index(_article_index, tmp_path / "data")
    return article_corpus


# --- the dev golden set, evaluated once per run ----------------------------------------------------------------
async def _evaluate_dev_set(settings: Settings, embedder: Embedder) -> DevSetRun:
    service = build_service(settings, embedder=embedder, chat=ScriptedChatModel())
    try:
        await service.prepare()
        report = await run_eval(service, load_golden(REPO / "eval" / "dev.yaml"), k=5)
        return DevSetRun(report, list(service.index.catalog.iter_chunks()))
    finally:
        await service.aclose()


@pytest.fixture(scope="session")
def dev_set_run(
    tmp_path_factory: pytest.TempPathFactory, _corpus_index: Path, model_dir: Path, embedder: Embedder
) -> DevSetRun:
    """What the service of `make_settings()` over `indexed_corpus` makes of the dev set. Two tests read it (the
    thresholds, the report's shape) and it costs ~15 s of CPU: one xdist worker computes it, the others read it
    from disk."""

    def build(root: Path) -> None:
        shutil.copytree(CORPUS, root / "corpus")
        copy_index(_corpus_index, root / "data")
        embedding = {"model_dir": model_dir, "threads": EMBED_THREADS}
        settings = Settings(_env_file=None, data_dir=root / "data", corpus_dir=root / "corpus", embedding=embedding)
        (root / "run.pickle").write_bytes(pickle.dumps(asyncio.run(_evaluate_dev_set(settings, embedder))))

    run: DevSetRun = pickle.loads((built_once(tmp_path_factory, "dev-set-run", build) / "run.pickle").read_bytes())
    return run


# --- order -------------------------------------------------------------------------------------------------------
# The files holding the longest tests (real processes: two bots and a chroma server, a wheel built and installed,
# a web site ingested through the CLI). pytest-xdist hands tests out in collection order, so these go first: a
# worker that draws one late would otherwise run it alone while the others have finished.
LONGEST_FIRST = (
    "ragbot/test_scale.py",
    "ragbot/test_wheel.py",
    "rag/test_chroma_server.py",
    "ragbot/test_url_sources_cli.py",
    "ragbot/test_monitoring.py",
    "ragbot/test_runner.py",
)
# Files whose tests share a module-scoped fixture: pytest sets it up again each time a worker comes back to the file.
KEPT_TOGETHER = ("test_properties.py", "test_layout.py")


def _copies_the_corpus_index(item: pytest.Item) -> bool:
    return isinstance(item, pytest.Function) and "_corpus_index" in item.fixturenames


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first, then every file's tests spread evenly over the run. In file order the workers
    would all be in the same file at once: in the bot files, all waiting on timers (a post left to settle, a
    draft's edit interval) with the cores idle; spread, a test that waits runs beside tests that compute."""

    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        return next((n for n, name in enumerate(LONGEST_FIRST) if path.endswith(name)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order
    first = [item for item in items if rank(item) < len(LONGEST_FIRST)]
    by_file: dict[Path, list[list[pytest.Item]]] = {}
    for item in items[len(first) :]:
        blocks = by_file.setdefault(item.path, [])
        if blocks and item.path.as_posix().endswith(KEPT_TOGETHER):
            blocks[0].append(item)
        else:
            blocks.append([item])

    # Each file's tests spread evenly over the run: block i of n sits at (i + 0.5) / n; but not in the first
    # fifth if it copies the corpus index, which takes one worker ~9 s to build at the start: the others run
    # tests that need nothing built meanwhile, instead of waiting for it.
    def position(n: int, block: list[pytest.Item]) -> float:
        evenly = (n + 0.5) / len(by_file[block[0].path])
        return max(evenly, 0.2) if any(_copies_the_corpus_index(item) for item in block) else evenly

    placed = [(position(n, block), block) for blocks in by_file.values() for n, block in enumerate(blocks)]
    spread = sorted(placed, key=lambda pair: pair[0])  # stable: a tie keeps collection order
    items[:] = first + [item for _, block in spread for item in block]
