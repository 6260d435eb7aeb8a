"""Benchmark of the retrieval core, every comparison made in one run on the same chunks.

(a) embedding throughput and single-query latency: our ONNX embedder vs chroma's default embedding function
    (the same all-MiniLM-L6-v2 files);
(b) `search` latency (query embedding + hybrid retrieval) p50/p95 on the real corpus and on 50,000 chunks;
(c) recall@5 on the dev set: our hybrid retrieval vs plain chroma similarity search.

Run: python bench/bench_retrieval.py [--chunks 50000]   (RAGBOT_EMBEDDING__MODEL_DIR must point at the model)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from rag.config import Settings
from rag.embeddings.onnx import OnnxEmbedder
from rag.index import Index, open_index
from rag.ingest import ingest
from rag.retrieval import Retriever
from rag.text import split_sentences
from rag.types import Chunk, Document, SourceInfo

REPO = Path(__file__).resolve().parents[1]
DEVSET = yaml.safe_load((REPO / "tests" / "rag" / "data" / "devset.yaml").read_text())
ARTICLE = REPO / "corpus" / "will-chinas-new-ai-model-deepseek-threaten-us-dominance.md"


def _model_dir() -> Path:
    default = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2" / "onnx"
    return Path(os.environ.get("RAGBOT_EMBEDDING__MODEL_DIR") or default)


def _chroma_default_ef(model_dir: Path):  # type: ignore[no-untyped-def]
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    ONNXMiniLM_L6_V2.DOWNLOAD_PATH = model_dir.parent  # the same files, no download
    return ONNXMiniLM_L6_V2()


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _settings(data_dir: Path, model_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, embedding={"model_dir": model_dir})


def bench_embedding(embedder: OnnxEmbedder, chroma_ef, texts: list[str]) -> list[tuple[str, float, float]]:  # type: ignore[no-untyped-def]
    rows = []
    embedder.embed(texts[:8])
    chroma_ef(texts[:8])  # warm both
    start = time.perf_counter()
    embedder.embed(texts)
    ours = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    chroma_ef(texts)
    theirs = len(texts) / (time.perf_counter() - start)
    rows.append((f"chunk embedding, texts/s ({len(texts)} chunks)", ours, theirs))
    queries = [item["q"] for item in DEVSET["in_scope"]]
    ours_ms, theirs_ms = [], []
    for q in queries:
        t = time.perf_counter()
        embedder.embed([q])
        ours_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        chroma_ef([q])
        theirs_ms.append((time.perf_counter() - t) * 1000)
    rows.append(("query embedding p50, ms", statistics.median(ours_ms), statistics.median(theirs_ms)))
    return rows


def search_latency(retriever: Retriever, rounds: int = 3) -> tuple[tuple[float, float], tuple[float, float]]:
    """(p50, p95) of each question's first search, which embeds the candidate passages' sentences for the
    best-sentence ranking, and of the searches after it, which find those sentence vectors cached."""
    queries = [item["q"] for item in DEVSET["in_scope"]] + list(DEVSET["out_of_scope"])
    retriever.search(queries[0])  # warm: loads the BM25 cache
    first, again = [], []
    for round_ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            retriever.search(q)
            (first if round_ == 0 else again).append((time.perf_counter() - t) * 1000)
    return _percentiles(first), _percentiles(again)


def recall_pair(index: Index, retriever: Retriever, chroma_ef, workdir: Path) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """recall@5 of our hybrid retrieval and of plain chroma similarity search over the same chunks."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chunks = list(index.catalog.iter_chunks())
    client = chromadb.PersistentClient(path=str(workdir / "plain"), settings=ChromaSettings(anonymized_telemetry=False))
    plain = client.create_collection("plain", embedding_function=chroma_ef)
    plain.add(ids=[c.chunk_id for c in chunks], documents=[c.text for c in chunks])
    texts = {c.chunk_id: c.text for c in chunks}
    hybrid_hits = plain_hits = 0
    for item in DEVSET["in_scope"]:
        hybrid_hits += any(item["expect"] in p.chunk.text for p in retriever.search(item["q"], 5).passages)
        ids = plain.query(query_texts=[item["q"]], n_results=5)["ids"][0]
        plain_hits += any(item["expect"] in texts[i] for i in ids)
    n = len(DEVSET["in_scope"])
    return hybrid_hits / n, plain_hits / n


def build_synthetic(index: Index, embedder: OnnxEmbedder, total: int, seed: int = 7) -> None:
    """`total` chunks of recombined corpus sentences. Vectors: real embeddings of 2,000 distinct texts, each
    reused with small noise, so the HNSW graph and the BM25 matrix have the full size without embedding
    50,000 texts for every benchmark run."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    sentences = [
        s for p in sorted((REPO / "corpus").rglob("*.md")) for s in split_sentences(p.read_text()) if len(s) > 40
    ]
    bases = [" ".join(rng.sample(sentences, 4)) for _ in range(2000)]
    base_vectors = embedder.embed(bases)
    per_doc = 100
    assert index.store is not None
    for d in range(total // per_doc):
        source = SourceInfo(f"synthetic/{d}", f"Synthetic source {d}")
        doc = Document(source.id, f"/synthetic/{d}.md", source.title, "", (), f"hash{d}")
        chunks, vectors = [], []
        for j in range(per_doc):
            b = rng.randrange(len(bases))
            text = f"{bases[b]} ({d}-{j} {rng.choice(sentences)[:60]})"
            chunks.append(Chunk(f"syn-{d}-{j}", source, text, (f"Part {j % 7}",), 0, len(text)))
            v = base_vectors[b] + np_rng.normal(0, 0.02, base_vectors.shape[1]).astype(np.float32)
            vectors.append(v / np.linalg.norm(v))
        index.store.add(chunks, np.asarray(vectors, dtype=np.float32))
        index.catalog.replace_document(doc, chunks)
    index.store.record_embedder(embedder.name, embedder.dimension)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=50_000)
    args = parser.parse_args()
    model_dir = _model_dir()
    embedder = OnnxEmbedder(model_dir)
    chroma_ef = _chroma_default_ef(model_dir)
    work = Path(tempfile.mkdtemp(prefix="ragbot-bench-"))
    try:
        # The real corpus.
        settings = _settings(work / "corpus", model_dir)
        index = open_index(settings, embedder=embedder)
        ingest(index, [REPO / "corpus"], settings.chunking)
        retriever = Retriever(index, settings.retrieval)
        chunk_texts = [c.embedding_text for c in index.catalog.iter_chunks()]
        print(f"corpus: {len(chunk_texts)} chunks; machine: {os.cpu_count()} cores\n")
        print("| measure | ragbot | chroma default | ratio |\n|---|---:|---:|---:|")
        for name, ours, theirs in bench_embedding(embedder, chroma_ef, chunk_texts):
            ratio = ours / theirs if "texts/s" in name else theirs / ours
            print(f"| {name} | {ours:.1f} | {theirs:.1f} | {ratio:.1f}x faster |")

        cold, warm = search_latency(retriever)
        print("\n| search latency (embed + hybrid), ms | first time p50 | p95 | again p50 | p95 |")
        print("|---|---:|---:|---:|---:|")
        print(f"| corpus ({len(chunk_texts)} chunks) | {cold[0]:.1f} | {cold[1]:.1f} | {warm[0]:.1f} | {warm[1]:.1f} |")

        # Recall: the article alone (the dev set's subject) and the full corpus.
        article_dir = work / "article-src"
        article_dir.mkdir()
        shutil.copy(ARTICLE, article_dir / ARTICLE.name)
        a_settings = _settings(work / "article", model_dir)
        a_index = open_index(a_settings, embedder=embedder)
        ingest(a_index, [article_dir], a_settings.chunking)
        recall_rows = [
            ("article only", *recall_pair(a_index, Retriever(a_index, a_settings.retrieval), chroma_ef, work / "ra")),
            ("full corpus", *recall_pair(index, retriever, chroma_ef, work / "rf")),
        ]

        # 50,000 chunks.
        s_settings = _settings(work / "synthetic", model_dir)
        s_index = open_index(s_settings, embedder=embedder)
        t = time.perf_counter()
        build_synthetic(s_index, embedder, args.chunks)
        build_s = time.perf_counter() - t
        s_retriever = Retriever(s_index, s_settings.retrieval)
        t = time.perf_counter()
        s_index.lexical()
        bm25_s = time.perf_counter() - t
        cold, warm = search_latency(s_retriever)
        chunks = s_index.catalog.chunk_count()
        print(f"| synthetic ({chunks} chunks) | {cold[0]:.1f} | {cold[1]:.1f} | {warm[0]:.1f} | {warm[1]:.1f} |")
        print(f"\n(synthetic index built in {build_s:.0f} s; BM25 over it built in {bm25_s:.1f} s)")

        print("\n| recall@5 on the dev set | hybrid (ragbot) | plain chroma similarity | difference |")
        print("|---|---:|---:|---:|")
        for name, ours, plain in recall_rows:
            print(f"| {name} ({len(DEVSET['in_scope'])} questions) | {ours:.3f} | {plain:.3f} | {ours - plain:+.3f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
