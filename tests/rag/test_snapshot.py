"""The vector snapshot: questions read a numpy copy of the live vectors, never opening chroma, and the copy
follows the catalog when ingestion changes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embeddings import Embedder
from rag.index import open_index
from rag.ingest import ingest
from rag.retrieval import Retriever
from rag.stores.snapshot import VectorSnapshot

_QUESTION_IN_A_FRESH_PROCESS = """
import json, sys
from rag.config import Settings
from rag.index import open_index
from rag.retrieval import Retriever
settings = Settings(_env_file=None, data_dir=sys.argv[1], embedding={"model_dir": sys.argv[2]})
index = open_index(settings)
index.check_embedder()
missing = index.missing_vectors()
result = Retriever(index, settings.retrieval).search("Who founded DeepSeek?")
print(json.dumps({"chromadb": "chromadb" in sys.modules, "missing": len(missing), "relevant": result.relevant,
                  "top": result.passages[0].chunk.text, "similarity": result.passages[0].dense_similarity}))
"""


def test_exact_cosine_order() -> None:
    vectors = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 2]], dtype=np.float32)
    snapshot = VectorSnapshot(["a", "b", "c"], vectors, embedder="e", generation=1)
    hits = snapshot.query(np.array([1, 1, 0], dtype=np.float32), 2)
    assert [i for i, _ in hits] == ["b", "a"]
    assert abs(hits[0][1] - 1.4 / np.sqrt(2)) < 1e-6  # cosine, whatever the vectors' lengths


@pytest.mark.usefixtures("indexed_article")  # the article indexed in make_settings()'s data folder
def test_a_question_needs_no_chroma_once_the_snapshot_exists(
    make_settings: Callable[..., Settings], embedder: Embedder, model_dir: Path
) -> None:
    settings = make_settings()
    index = open_index(settings, embedder=embedder)
    assert not (settings.data_dir / "vectors").exists()  # no question asked yet
    through_store = Retriever(index, settings.retrieval).search("Who founded DeepSeek?")  # writes the snapshot
    index.close()
    # The candidates' sentence vectors were kept on disk too: the next process reads them, embeds none again.
    kept = {f: f.stat().st_mtime_ns for f in (settings.data_dir / "sentences").rglob("*.npy")}
    assert len(kept) >= settings.retrieval.k
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")}
    script = [sys.executable, "-c", _QUESTION_IN_A_FRESH_PROCESS, str(settings.data_dir), str(model_dir)]
    shown = json.loads(subprocess.run(script, capture_output=True, text=True, env=env, check=True).stdout)
    assert shown["chromadb"] is False and shown["missing"] == 0 and shown["relevant"]
    assert "Liang Wenfeng" in shown["top"] and shown["top"] == through_store.passages[0].chunk.text
    assert abs(shown["similarity"] - through_store.passages[0].dense_similarity) < 1e-5  # same cosine as chroma's
    assert {f: f.stat().st_mtime_ns for f in (settings.data_dir / "sentences").rglob("*.npy")} == kept


def test_the_snapshot_follows_ingestion(
    make_settings: Callable[..., Settings], indexed_article: Path, embedder: Embedder
) -> None:
    article_corpus = indexed_article
    settings = make_settings()
    index = open_index(settings, embedder=embedder)
    retriever = Retriever(index, settings.retrieval)
    assert not retriever.search("What do capybaras eat in the Pantanal wetlands?").relevant
    (article_corpus / "capybaras.md").write_text(
        "# Capybaras\n\nCapybaras in the Pantanal wetlands eat grasses and aquatic plants.\n"
    )
    ingest(index, [article_corpus], settings.chunking)
    result = retriever.search("What do capybaras eat in the Pantanal wetlands?")
    assert result.relevant and result.passages[0].chunk.source.id == "capybaras"
    saved = json.loads((settings.data_dir / "vectors" / "vectors.json").read_text())
    assert saved["generation"] == index.catalog.generation and len(saved["ids"]) == len(index.catalog.all_chunk_ids())


def test_sentence_similarities_reuse_vectors_kept_on_disk(
    make_settings: Callable[..., Settings], embedder: Embedder
) -> None:
    settings = make_settings()
    sentences = ["Liang Wenfeng founded DeepSeek in 2023.", "The H800 was sold in China from March 2023."]
    first = open_index(settings, embedder=embedder).similarity("Who founded DeepSeek?", sentences)
    kept = {f: f.stat().st_mtime_ns for f in (settings.data_dir / "sentences").rglob("texts/*.npy")}
    assert len(kept) == 2  # the sources' sentences, not the question
    again = open_index(settings, embedder=embedder).similarity("Who founded DeepSeek?", sentences)
    assert again == first and first[0] > first[1]
    assert {f: f.stat().st_mtime_ns for f in (settings.data_dir / "sentences").rglob("texts/*.npy")} == kept


def test_writers_saving_at_once_all_succeed_and_leave_a_loadable_snapshot(tmp_path: Path) -> None:
    """Concurrent questions may each save the snapshot of the same generation: none may fail on another's rename."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(7)
    snapshot = VectorSnapshot(
        [f"c{i}" for i in range(50)], rng.random((50, 8), dtype=np.float32), embedder="e", generation=3
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: snapshot.save(tmp_path), range(64)))  # re-raises any writer's error
    loaded = VectorSnapshot.load(tmp_path, generation=3, embedder="e")
    assert loaded is not None and loaded.ids == snapshot.ids
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.json", "vectors.npy"]  # no partial left behind
