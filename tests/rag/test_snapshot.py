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

from rag.config import Settings
from rag.embeddings.onnx import OnnxEmbedder
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


def test_a_question_needs_no_chroma_once_the_snapshot_exists(
    make_settings: Callable[..., Settings], article_corpus: Path, embedder: OnnxEmbedder, model_dir: Path
) -> None:
    settings = make_settings()
    index = open_index(settings, embedder=embedder)
    ingest(index, [article_corpus], settings.chunking)
    through_store = Retriever(index, settings.retrieval).search("Who founded DeepSeek?")  # writes the snapshot
    index.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")}
    script = [sys.executable, "-c", _QUESTION_IN_A_FRESH_PROCESS, str(settings.data_dir), str(model_dir)]
    shown = json.loads(subprocess.run(script, capture_output=True, text=True, env=env, check=True).stdout)
    assert shown["chromadb"] is False and shown["missing"] == 0 and shown["relevant"]
    assert "Liang Wenfeng" in shown["top"] and shown["top"] == through_store.passages[0].chunk.text
    assert abs(shown["similarity"] - through_store.passages[0].dense_similarity) < 1e-5  # same cosine as chroma's


def test_the_snapshot_follows_ingestion(
    make_settings: Callable[..., Settings], article_corpus: Path, embedder: OnnxEmbedder
) -> None:
    settings = make_settings()
    index = open_index(settings, embedder=embedder)
    ingest(index, [article_corpus], settings.chunking)
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
