from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from helpers import ARTICLE_ID, REPO

from rag.config import Settings
from rag.embeddings import Embedder
from rag.index import open_index
from rag.ingest import ingest
from rag.retrieval import Retriever, rrf_fuse, select_passages
from rag.types import Chunk, Passage, SourceInfo

DEVSET = yaml.safe_load((REPO / "tests" / "rag" / "data" / "devset.yaml").read_text())


def _passage(cid: str, source: str, text: str, score: float) -> Passage:
    return Passage(Chunk(cid, SourceInfo(source, source), text, (), 0, len(text)), score)


def test_rrf_rewards_agreement_between_rankings() -> None:
    fused = rrf_fuse([["a", "b", "c"], ["c", "b", "d"]], k=10)
    scores = dict(fused)
    assert [i for i, _ in fused][:2] == ["c", "b"]  # both lists rank them; "a" and "d" only one
    assert scores["c"] == pytest.approx(1 / 11 + 1 / 13) and scores["b"] == pytest.approx(2 / 12)
    assert scores["a"] == pytest.approx(1 / 11)


def test_selection_caps_sources_drops_copies_and_fills_up() -> None:
    long_text = "the h800 was designed to fit the october 2022 export limits on chip bandwidth"
    candidates = [
        _passage("a1", "A", "alpha one " + long_text, 0.9),
        _passage("a2", "A", long_text + " alpha two", 0.8),  # a near-copy of a1
        _passage("a3", "A", "alpha three is different text entirely about rules", 0.7),
        _passage("a4", "A", "alpha four talks about other things in the report", 0.6),
        _passage("b1", "B", "bravo one covers the nvidia sell-off of january", 0.5),
    ]
    chosen = select_passages(candidates, k=3, max_per_source=2, duplicate_threshold=0.6)
    assert [p.chunk.chunk_id for p in chosen] == ["a1", "a3", "b1"]
    # With too few other sources, the cap yields rather than returning fewer than k passages.
    chosen = select_passages(candidates, k=4, max_per_source=2, duplicate_threshold=0.6)
    assert [p.chunk.chunk_id for p in chosen] == ["a1", "a3", "a4", "b1"]


@pytest.fixture
def article_retriever(make_settings: Callable[..., Settings], indexed_article: Path, embedder: Embedder) -> Retriever:
    settings = make_settings()
    index = open_index(settings, embedder=embedder)
    ingest(index, [indexed_article], settings.chunking)
    return Retriever(index, settings.retrieval)


def test_devset_shape() -> None:
    assert len(DEVSET["in_scope"]) >= 25 and len(DEVSET["out_of_scope"]) >= 5
    article = (REPO / "corpus" / f"{ARTICLE_ID}.md").read_text()
    for item in DEVSET["in_scope"]:
        assert item["expect"] in article, item


def test_recall_at_5_on_the_article_devset(article_retriever: Retriever) -> None:
    misses = []
    for item in DEVSET["in_scope"]:
        result = article_retriever.search(item["q"], 5)
        if not any(item["expect"] in p.chunk.text for p in result.passages):
            misses.append(item["q"])
    recall = 1 - len(misses) / len(DEVSET["in_scope"])
    assert recall >= 0.9, f"recall@5 {recall:.2f}; missed: {misses}"


def test_relevance_separates_in_scope_from_out_of_scope(article_retriever: Retriever) -> None:
    accepted = [q for q in DEVSET["out_of_scope"] if article_retriever.search(q).relevant]
    assert accepted == []
    refused = [i["q"] for i in DEVSET["in_scope"] if not article_retriever.search(i["q"]).relevant]
    assert len(refused) <= len(DEVSET["in_scope"]) * 0.05, refused


def test_full_corpus_refuses_out_of_scope_and_spreads_sources(
    make_settings: Callable[..., Settings], indexed_corpus: Path, embedder: Embedder
) -> None:
    settings = make_settings()
    index = open_index(settings, embedder=embedder)
    ingest(index, [indexed_corpus], settings.chunking)
    retriever = Retriever(index, settings.retrieval)
    assert [q for q in DEVSET["out_of_scope"] if retriever.search(q).relevant] == []
    result = retriever.search("DeepSeek R1 training cost and GPUs", 5)
    per_source: dict[str, int] = {}
    for p in result.passages:
        per_source[p.chunk.source.id] = per_source.get(p.chunk.source.id, 0) + 1
    assert len(result.passages) == 5 and max(per_source.values()) <= settings.retrieval.max_per_source
