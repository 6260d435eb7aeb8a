"""Benchmark of the shared index catalog (PostgreSQL) against the local one (SQLite), on the shipped corpus and the
same embedded chroma store, so only the catalog differs: a search (p50/p95), an ingest that finds nothing
changed, an ingest that changes one document (draft, publish, sweep), and how long a second process takes from
the publish to answering from the new generation (poll + BM25 rebuild).

Run: python bench/bench_shared_index.py POSTGRES_URL   (an empty database; RAGBOT_EMBEDDING__MODEL_DIR set)
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from rag.catalog import Catalog, CatalogStore
from rag.config import Settings
from rag.embeddings.onnx import OnnxEmbedder
from rag.index import Index
from rag.ingest import ingest
from rag.retrieval import Retriever
from rag.stores.catalog_sql import POLL_SECONDS, SqlCatalog
from rag.stores.chroma import ChromaStore
from rag.stores.shared import shared_catalog_url

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = [i["q"] for i in yaml.safe_load((REPO / "tests/rag/data/devset.yaml").read_text())["in_scope"]]


def _index(settings: Settings, catalog: CatalogStore, embedder: OnnxEmbedder, own_dir: str = "") -> Index:
    """`own_dir`: a data folder of its own for the BM25 cache (another host), over the same vectors."""
    return Index(
        data_dir=settings.data_dir / own_dir if own_dir else settings.data_dir,
        catalog=catalog,
        embedder=embedder,
        open_store=lambda: ChromaStore(settings.chroma, settings.data_dir),
    )


def _ms(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def _searches(index: Index, settings: Settings) -> tuple[float, float]:
    retriever = Retriever(index, settings.retrieval)
    retriever.search(QUESTIONS[0])  # BM25 and the store opened
    times = []
    for question in QUESTIONS * 2:
        start = time.perf_counter()
        retriever.search(question)
        times.append(time.perf_counter() - start)
    return _ms(times)


def _timed_ingest(index: Index, corpus: Path, settings: Settings) -> float:
    start = time.perf_counter()
    ingest(index, [corpus], settings.chunking)
    return (time.perf_counter() - start) * 1000


def _edit(corpus: Path, n: int) -> None:
    note = corpus / "briefs" / "deepseek-v3.md"
    note.write_text(note.read_text(encoding="utf-8") + f"\n\nAn added closing line, number {n}.\n", encoding="utf-8")


def main(url: str) -> None:
    model_dir = Path(os.environ["RAGBOT_EMBEDDING__MODEL_DIR"])
    embedder = OnnxEmbedder(model_dir)
    root = Path(tempfile.mkdtemp(prefix="bench-shared-"))
    corpus = root / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    settings = Settings(_env_file=None, data_dir=root / "data", corpus_dir=corpus, embedding={"model_dir": model_dir})
    local = _index(settings, Catalog(root / "data" / "catalog.sqlite3"), embedder)
    catalog_url = shared_catalog_url(url, "chroma")
    assert catalog_url is not None
    shared = _index(settings, SqlCatalog(catalog_url), embedder)
    ingest(local, [corpus], settings.chunking)  # embeds the corpus once; the shared catalog finds the vectors
    ingest(shared, [corpus], settings.chunking)
    for index in (local, shared):
        _searches(index, settings)  # warm: sentence vectors cached on disk, chroma opened, BM25 built
    rows = []
    for name, index in (("local (SQLite)", local), ("shared (PostgreSQL)", shared)):
        p50, p95 = _searches(index, settings)
        unchanged = _timed_ingest(index, corpus, settings)
        _edit(corpus, len(rows))
        changed = _timed_ingest(index, corpus, settings)
        rows.append((name, p50, p95, unchanged, changed))
    header = ("search p50", "search p95", "ingest, none changed", "ingest, 1 changed")
    print(f"{'catalog':22} {header[0]:>11} {header[1]:>11} {header[2]:>21} {header[3]:>18}")
    for name, p50, p95, unchanged, changed in rows:
        print(f"{name:22} {p50:9.1f}ms {p95:9.1f}ms {unchanged:19.0f}ms {changed:16.0f}ms")
    ratio = rows[1][1] / rows[0][1]
    print(f"search p50, shared / local: {ratio:.2f}x")
    _pickup(settings, catalog_url, shared, corpus, embedder)


def _pickup(settings: Settings, url: str, writer: Index, corpus: Path, embedder: OnnxEmbedder) -> None:
    """A second process's reader: from the writer's publish to its first search on the new generation."""
    reader = _index(settings, SqlCatalog(url, poll_seconds=0), embedder, own_dir="reader")
    Retriever(reader, settings.retrieval).search(QUESTIONS[0])
    _edit(corpus, 99)
    ingest(writer, [corpus], settings.chunking)
    start = time.perf_counter()
    generation = reader.catalog.generation
    lexical = reader.lexical()
    took = (time.perf_counter() - start) * 1000
    assert lexical.generation == generation == writer.catalog.generation
    print(
        f"pickup of a new generation: {took:.0f} ms (poll + BM25 rebuild of {len(lexical.ids)} chunks), after at most"
        f" the {POLL_SECONDS:g} s poll interval"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://ragbot:ragbot@127.0.0.1:5432/ragbot_bench")
