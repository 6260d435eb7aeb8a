"""The HttpClient path: a real `chroma run` server on 127.0.0.1 serves the same results as the embedded store."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chroma_binary() -> str:
    found = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(found).exists():
        pytest.fail("the `chroma` command (installed with chromadb) is missing")
    return found


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    port = _free_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [_chroma_binary(), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"chroma server exited: {(tmp_path / 'chroma.log').read_text()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("chroma server did not start within 60 s")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_server_and_embedded_store_agree(
    make_settings: Callable[..., Settings],
    indexed_article: Path,
    embedder: Embedder,
    chroma_server: int,
    tmp_path: Path,
) -> None:
    """The embedded index is the article's index that tests copy; the same corpus is ingested into the server (the
    article alone: its 35 passages are enough to rank, and it keeps this test from embedding the whole corpus)."""
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
        assert index.store is not None and index.store.count() == index.catalog.chunk_count()
        retriever = Retriever(index, settings.retrieval)
        results[name] = [[p.chunk.chunk_id for p in retriever.search(q).passages] for q in QUERIES]
        index.close()
    assert results["served"] == results["embedded"]
    assert all(len(ids) == 5 for ids in results["served"])
