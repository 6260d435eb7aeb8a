"""The HttpClient path: a real `chroma run` server on 127.0.0.1 serves the same results as the embedded store."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from shared_index import start_chroma, stop

from rag.config import Settings
from rag.embeddings import Embedder
from rag.index import open_index
from rag.ingest import ingest
from rag.retrieval import Retriever

QUERIES = [
    "Who founded DeepSeek?",
    "how many H800 GPUs trained V3",
    "when did Nvidia lose hundreds of billions in value",
    "which countries banned the DeepSeek app",
    "what does the EU AI Act require and when",
]


@pytest.fixture
def chroma_server(tmp_path: Path, indexed_article: Path) -> Iterator[int]:
    """A `chroma run` server on a copy of the store of `indexed_article` (a folder an embedded store wrote works as
    is): both stores hold the very same vectors, and only the way to them differs. Writing through a server is
    tested with two processes sharing one (tests/ragbot/test_scale.py, a /reindex)."""
    folder = tmp_path / "server"
    shutil.copytree(tmp_path / "data" / "chroma", folder)
    proc, port = start_chroma(folder, tmp_path / "chroma.log")
    try:
        yield port
    finally:
        stop(proc)


def test_server_and_embedded_store_agree(
    make_settings: Callable[..., Settings],
    indexed_article: Path,
    embedder: Embedder,
    chroma_server: int,
    tmp_path: Path,
) -> None:
    """The embedded index is the article's index that tests copy (its 35 passages are enough to rank); the same
    corpus is ingested with the server as the store: every vector is found there, and the catalog is new."""
    embedded = make_settings()
    served = make_settings(data_dir=tmp_path / "served", chroma={"host": "127.0.0.1", "port": chroma_server})
    # The sentence vectors kept beside the embedded index, so the two searches read the very same vectors (a
    # sentence embedded in another batch can differ in the last bits) and only the stores differ.
    shutil.copytree(embedded.data_dir / "sentences", served.data_dir / "sentences")
    files = len(list(indexed_article.rglob("*.md")))
    results = {}
    for name, settings in (("embedded", embedded), ("served", served)):
        index = open_index(settings, embedder=embedder)
        report = ingest(index, [indexed_article], settings.chunking)
        assert not report.failed and len(report.added if name == "served" else report.unchanged) == files
        assert report.chunks_embedded == 0
        assert index.store is not None and index.store.count() == index.catalog.chunk_count()
        retriever = Retriever(index, settings.retrieval)
        results[name] = [[p.chunk.chunk_id for p in retriever.search(q).passages] for q in QUERIES]
        index.close()
    assert results["served"] == results["embedded"]
    assert all(len(ids) == 5 for ids in results["served"])
