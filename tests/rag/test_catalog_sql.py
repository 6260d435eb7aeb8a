"""The shared catalog in PostgreSQL: one writer at a time, generations that go live only when complete, and
vectors swept only after the grace period. Real PostgreSQL (a database per test) and a real chroma store."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from helpers import ARTICLE_ID, SettingsFactory
from shared_index import catalog_url, postgres_url

from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import IngestRunning
from rag.index import Index
from rag.ingest import ingest
from rag.retrieval import Retriever
from rag.stores.catalog_sql import SqlCatalog
from rag.stores.chroma import ChromaStore
from rag.stores.url_registry_sql import SqlUrlRegistry
from rag.url_sources import UrlSource

__all__ = ["postgres_url"]  # the fixture, used by name

ARTICLE_FILE = f"{ARTICLE_ID}.md"


def _index(settings: Settings, url: str, embedder: Embedder, **catalog: float) -> Index:
    """An index whose catalog is the shared one; the vectors stay in the test's chroma folder."""
    return Index(
        data_dir=settings.data_dir,
        catalog=SqlCatalog(catalog_url(url), **catalog),
        embedder=embedder,
        open_store=lambda: ChromaStore(settings.chroma, settings.data_dir),
    )


def _drafts(url: str) -> int:
    with psycopg.connect(catalog_url(url)) as db:
        row = db.execute("SELECT COUNT(*) FROM rag_catalog_generations WHERE status = 'draft'").fetchone()
    assert row is not None
    return int(row[0])


def test_a_reader_sees_nothing_then_the_whole_generation(
    make_settings: SettingsFactory, indexed_corpus: Path, embedder: Embedder, postgres_url: str
) -> None:
    settings = make_settings()
    writer, reader = _index(settings, postgres_url, embedder), _index(settings, postgres_url, embedder, poll_seconds=0)
    assert reader.catalog.generation == 0 and reader.catalog.chunk_count() == 0
    report = ingest(writer, [indexed_corpus], settings.chunking)
    assert not report.failed and report.chunks_embedded == 0  # every vector was in the store already
    assert reader.catalog.generation == 1
    assert [d.source.id for d in reader.catalog.documents()] == [d.source.id for d in writer.catalog.documents()]
    result = Retriever(reader, settings.retrieval).search("Who founded DeepSeek?")
    assert result.relevant and "Liang Wenfeng" in " ".join(p.chunk.text for p in result.passages)
    writer.close()
    reader.close()


def test_changes_show_only_when_the_draft_is_complete(
    make_settings: SettingsFactory, indexed_corpus: Path, embedder: Embedder, postgres_url: str
) -> None:
    settings = make_settings()
    writer, reader = _index(settings, postgres_url, embedder), _index(settings, postgres_url, embedder, poll_seconds=0)
    ingest(writer, [indexed_corpus], settings.chunking)
    before = reader.catalog.chunk_count()
    catalog = writer.catalog
    with catalog.exclusive():
        with catalog.draft():
            catalog.remove_document(ARTICLE_ID)
            assert catalog.chunk_count() < before  # the writer's thread reads its draft ...
            assert ARTICLE_ID in {d.source.id for d in reader.catalog.documents()}  # ... readers the live one
            assert reader.catalog.chunk_count() == before
        with pytest.raises(RuntimeError), catalog.draft():
            catalog.remove_document("some-other-source")
            raise RuntimeError("the writer fails half-way")
    assert ARTICLE_ID not in {d.source.id for d in reader.catalog.documents()}
    assert reader.catalog.generation == 2 and _drafts(postgres_url) == 0  # the failed draft left nothing
    writer.close()
    reader.close()


def test_a_second_writer_is_refused_while_one_runs(
    make_settings: SettingsFactory, indexed_corpus: Path, embedder: Embedder, postgres_url: str
) -> None:
    settings = make_settings()
    first, second = _index(settings, postgres_url, embedder), _index(settings, postgres_url, embedder)
    with first.catalog.exclusive(), pytest.raises(IngestRunning) as refused:
        ingest(second, [indexed_corpus], settings.chunking)
    assert re.fullmatch(
        r"another ingest is running \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, process \d+ on \S+\);"
        r" try again when it is done",
        str(refused.value),
    )
    assert second.catalog.chunk_count() == 0  # refused before writing anything
    assert not ingest(second, [indexed_corpus], settings.chunking).failed  # the lock is free again
    assert first.catalog.chunk_count() > 0
    first.close()
    second.close()


def test_old_vectors_outlive_their_generation_for_the_grace_period(
    make_settings: SettingsFactory, indexed_corpus: Path, embedder: Embedder, postgres_url: str
) -> None:
    settings = make_settings()
    writer = _index(settings, postgres_url, embedder)
    ingest(writer, [indexed_corpus], settings.chunking)
    reader = _index(settings, postgres_url, embedder, poll_seconds=3600)  # reads generation 1 for an hour
    old_ids = reader.catalog.chunk_ids_of(ARTICLE_ID)
    article = next(indexed_corpus.rglob(ARTICLE_FILE))
    article.write_text(article.read_text(encoding="utf-8").replace("Liang Wenfeng", "Liang W."), encoding="utf-8")
    assert ingest(writer, [indexed_corpus], settings.chunking).updated == [str(article)]
    gone = old_ids - writer.catalog.chunk_ids_of(ARTICLE_ID)
    assert gone and reader.catalog.generation == 1
    assert writer.store is not None and writer.store.existing(gone) == gone  # kept for readers of generation 1
    assert set(reader.catalog.get_chunks(gone)) == gone  # and such a reader still finds their text
    writer.close()
    sweeper = _index(settings, postgres_url, embedder, grace_seconds=0)
    ingest(sweeper, [indexed_corpus], settings.chunking)  # nothing changed: no new generation, but a sweep
    assert sweeper.store is not None and sweeper.store.existing(gone) == set()
    assert sweeper.store.all_ids() == sweeper.catalog.all_chunk_ids()
    sweeper.close()
    reader.close()


def test_a_rebuild_keeps_the_vectors_other_processes_search(
    make_settings: SettingsFactory, indexed_corpus: Path, embedder: Embedder, postgres_url: str
) -> None:
    settings = make_settings()
    writer, reader = _index(settings, postgres_url, embedder), _index(settings, postgres_url, embedder, poll_seconds=0)
    ingest(writer, [indexed_corpus], settings.chunking)
    assert writer.store is not None
    vectors = writer.store.all_ids()
    report = ingest(writer, [indexed_corpus], settings.chunking, rebuild=True)
    assert report.chunks_embedded == 0 and not report.failed  # every passage found its vector again
    assert writer.store.all_ids() == vectors and reader.catalog.generation == 2
    result = Retriever(reader, settings.retrieval).search("Who founded DeepSeek?")
    assert result.relevant and "Liang Wenfeng" in " ".join(p.chunk.text for p in result.passages)
    writer.close()
    reader.close()


def test_processes_starting_together_on_an_empty_database_all_start(postgres_url: str) -> None:
    """Shards of a fresh deployment start at the same moment: each creates the shared tables if absent, and
    none may fail because a twin created them a moment before (seen when two `ragbot run` started together)."""
    url = catalog_url(postgres_url)
    barrier = threading.Barrier(6)

    def start(n: int) -> SqlUrlRegistry | SqlCatalog:
        barrier.wait()
        return SqlUrlRegistry(url) if n % 2 else SqlCatalog(url)

    with ThreadPoolExecutor(6) as pool:
        started = list(pool.map(start, range(6)))  # re-raises the first failure
    page = UrlSource(
        "https://example.org/act.html", "example-org-act", "html", "utf-8", "0" * 64, "2025-02-02T00:00:00Z"
    )
    registries = [s for s in started if isinstance(s, SqlUrlRegistry)]
    registries[0].save(page, b"<p>text</p>")
    assert [s.url for s in registries[-1].all()] == [page.url]
    for store in started:
        store.close()
