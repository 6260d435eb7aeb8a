from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAI
from helpers import ARTICLE_ID, CORPUS

from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import IndexMismatchError
from rag.index import Index, open_index
from rag.ingest import IngestReport, ingest
from rag.retrieval import Retriever

SettingsFactory = Callable[..., Settings]


def _open(settings: Settings, embedder: Embedder | None = None) -> Index:
    return open_index(settings, embedder=embedder)


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Three briefs of the real corpus, in the corpus folder of `make_settings()` (the first ingest of the whole
    corpus is the one `indexed_corpus` copies: test_reingest_skips_unchanged_files_and_keeps_ids reads its report)."""
    target = tmp_path / "corpus"
    (target / "briefs").mkdir(parents=True)
    for name in ("eu-ai-act-timeline.md", "nist-ai-risk-management-framework.md", "deepseek-v3.md"):
        shutil.copy(CORPUS / "briefs" / name, target / "briefs" / name)
    return target


def _vector_ids(index: Index) -> set[str]:
    assert index.store is not None
    return index.store.all_ids()


def test_reingest_skips_unchanged_files_and_keeps_ids(
    make_settings: SettingsFactory, indexed_corpus: Path, corpus_first_ingest: IngestReport, embedder: Embedder
) -> None:
    """The first ingest of the whole corpus is the one every test copies (tests/helpers.py `build_index`)."""
    settings = make_settings()
    index = _open(settings, embedder)
    files = len(list(indexed_corpus.rglob("*.md")))
    first = corpus_first_ingest
    assert len(first.added) == files and not first.failed and not first.updated and not first.unchanged
    ids = index.catalog.all_chunk_ids()
    assert _vector_ids(index) == ids and first.chunks_embedded == len(ids)

    again = ingest(_open(settings, embedder), [indexed_corpus], settings.chunking)
    assert len(again.unchanged) == files
    assert again.chunks_embedded == 0 and not again.added and not again.updated and not again.failed
    assert index.catalog.all_chunk_ids() == ids


@pytest.mark.usefixtures("indexed_corpus")  # starts from the whole corpus indexed; the edit is what is tested
def test_editing_one_file_reembeds_only_that_file(
    make_settings: SettingsFactory, corpus_copy: Path, embedder: Embedder
) -> None:
    settings = make_settings()
    index = _open(settings, embedder)
    ingest(index, [corpus_copy], settings.chunking)
    article = corpus_copy / f"{ARTICLE_ID}.md"
    before = index.catalog.chunk_ids_of(ARTICLE_ID)
    others = index.catalog.all_chunk_ids() - before
    text = article.read_text()
    article.write_text(text.replace("DeepSeek was founded by Liang Wenfeng", "DeepSeek was set up by Liang Wenfeng"))

    report = ingest(index, [corpus_copy], settings.chunking)
    after = index.catalog.chunk_ids_of(ARTICLE_ID)
    assert report.updated == [str(article)]
    assert len(report.unchanged) == len(list(corpus_copy.rglob("*.md"))) - 1
    assert 1 <= report.chunks_embedded <= 2  # only the edited passage (and its overlapping neighbour)
    assert len(after - before) == report.chunks_embedded
    assert index.catalog.all_chunk_ids() - after == others
    assert _vector_ids(index) == index.catalog.all_chunk_ids()  # stale vectors were removed
    top = Retriever(index, settings.retrieval).search("who set up deepseek", 3).passages
    assert any("set up by Liang Wenfeng" in p.chunk.text for p in top)


def test_deleting_a_file_removes_its_chunks(
    make_settings: SettingsFactory, small_corpus: Path, embedder: Embedder
) -> None:
    settings = make_settings()
    index = _open(settings, embedder)
    ingest(index, [small_corpus], settings.chunking)
    victim = next((small_corpus / "briefs").glob("eu-ai-act*.md"))
    victim_id = f"briefs/{victim.stem}"
    gone = index.catalog.chunk_ids_of(victim_id)
    assert gone
    victim.unlink()
    report = ingest(index, [small_corpus], settings.chunking)
    assert report.removed == [str(victim)]
    assert not index.catalog.chunk_ids_of(victim_id)
    assert not gone & _vector_ids(index)
    result = Retriever(index, settings.retrieval).search("When do the EU AI Act's high-risk rules apply?")
    assert all(p.chunk.source.id != victim_id for p in result.passages)


def test_bad_files_are_reported_and_the_rest_indexed(
    make_settings: SettingsFactory, small_corpus: Path, embedder: Embedder
) -> None:
    (small_corpus / "empty.md").write_bytes(b"")
    (small_corpus / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.7 truncated garbage")
    (small_corpus / "bad-front.md").write_text("---\ntitle: [oops\n---\ntext\n")
    settings = make_settings()
    index = _open(settings, embedder)
    report = ingest(index, [small_corpus], settings.chunking)
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert set(failed) == {"empty.md", "image.md", "broken.pdf", "bad-front.md"}
    assert "empty" in failed["empty.md"] and "binary" in failed["image.md"]
    assert len(report.added) == len(list(small_corpus.rglob("*.md"))) - 3
    assert index.catalog.chunk_ids_of("briefs/deepseek-v3")


def test_a_file_that_breaks_later_keeps_its_last_good_version(
    make_settings: SettingsFactory, indexed_article: Path, embedder: Embedder
) -> None:
    article_corpus = indexed_article
    settings = make_settings()
    index = _open(settings, embedder)
    before = index.catalog.chunk_ids_of(ARTICLE_ID)
    (article_corpus / f"{ARTICLE_ID}.md").write_bytes(b"\x00\x01 corrupted on disk")
    report = ingest(index, [article_corpus], settings.chunking)
    assert [Path(p).name for p, _ in report.failed] == [f"{ARTICLE_ID}.md"]
    assert index.catalog.chunk_ids_of(ARTICLE_ID) == before and not report.removed


async def test_failure_mid_ingest_never_exposes_a_half_indexed_document(
    make_settings: SettingsFactory, article_corpus: Path
) -> None:
    """The embedding endpoint fails while the new version is being embedded: the old version stays whole. (It
    refuses the request, which is not retried; a dead endpoint fails the same way after the retries' waits.)"""
    article = article_corpus / f"{ARTICLE_ID}.md"
    async with FakeOpenAI() as fake:
        settings = make_settings(embedding={"backend": "openai", "base_url": fake.base_url, "model": "fake-embed"})
        index = open_index(settings)
        # Blocking ingest runs in a thread, as in the service, so the fake server's loop keeps serving.
        first = await asyncio.to_thread(ingest, index, [article_corpus], settings.chunking)
        assert len(first.added) == 1
        before = index.catalog.chunk_ids_of(ARTICLE_ID)
        article.write_text(article.read_text().replace("Liang Wenfeng", "Liang W."))
        fake.embedding_budget = 0  # from now on every embedding request gets a 400
        report = await asyncio.to_thread(ingest, index, [article_corpus], settings.chunking)
    assert len(report.failed) == 1 and "embedding endpoint failed" in report.failed[0][1]
    assert index.catalog.chunk_ids_of(ARTICLE_ID) == before
    texts = " ".join(c.text for c in index.catalog.get_chunks(before).values())
    assert "Liang Wenfeng" in texts and "Liang W." not in texts.replace("Liang Wenfeng", "")


async def test_embedder_mismatch_asks_for_a_rebuild(make_settings: SettingsFactory, indexed_article: Path) -> None:
    article_corpus = indexed_article  # indexed with the ONNX model of make_settings()
    async with FakeOpenAI(embedding_dim=64) as fake:
        other = make_settings(embedding={"backend": "openai", "base_url": fake.base_url, "model": "fake-embed"})
        index = open_index(other)
        with pytest.raises(IndexMismatchError, match=r"ragbot ingest --rebuild"):
            index.check_embedder()
        with pytest.raises(IndexMismatchError):
            await asyncio.to_thread(ingest, index, [article_corpus], other.chunking)
        rebuilt = await asyncio.to_thread(ingest, index, [article_corpus], other.chunking, rebuild=True)
        assert len(rebuilt.added) == 1
        index.check_embedder()  # consistent now
        assert index.store is not None and index.store.recorded_embedder() == ("openai:fake-embed", 64)
        retriever = Retriever(index, other.retrieval)
        hits = (await asyncio.to_thread(retriever.search, "Liang Wenfeng founded DeepSeek")).passages
        assert any("Liang Wenfeng" in p.chunk.text for p in hits)


def test_lexical_fallback_without_a_model(
    make_settings: SettingsFactory, article_corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import rag.index

    rag.index._warned_unavailable = False
    empty = tmp_path / "no-model"
    empty.mkdir()
    settings = make_settings(embedding={"model_dir": empty})
    with caplog.at_level(logging.WARNING):
        index = open_index(settings)
        open_index(settings)  # a second open must not warn again
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "keyword search only" in warnings[0].getMessage()
    assert index.embedder is None and index.mode == "lexical"
    report = ingest(index, [article_corpus], settings.chunking)
    assert len(report.added) == 1
    result = Retriever(index, settings.retrieval).search("Who founded DeepSeek?")
    assert result.mode == "lexical" and result.relevant
    assert "Liang Wenfeng" in result.passages[0].chunk.text
    assert not Retriever(index, settings.retrieval).search("how do I get red wine out of a carpet").relevant


def test_vectors_are_added_once_a_model_becomes_available(
    make_settings: SettingsFactory, small_corpus: Path, tmp_path: Path, embedder: Embedder
) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    ingest(open_index(make_settings(embedding={"model_dir": empty})), [small_corpus], make_settings().chunking)
    settings = make_settings()
    index = _open(settings, embedder)
    assert index.missing_vectors() == index.catalog.all_chunk_ids() != set()
    report = ingest(index, [small_corpus], settings.chunking)
    assert report.chunks_embedded == len(index.catalog.all_chunk_ids()) and not index.missing_vectors()


def test_a_file_deleted_from_a_moved_corpus_folder_is_removed(
    make_settings: SettingsFactory, indexed_corpus: Path, embedder: Embedder
) -> None:
    """The index was built from another folder (the session's copy of the corpus, still on disk with every file):
    for ingest, this folder is the corpus now. Its unchanged files keep the place they were indexed from, and one
    deleted here must still leave the index."""
    settings = make_settings()
    index = _open(settings, embedder)
    [record] = [r for r in index.catalog.documents() if r.source.id == "briefs/deepseek-v3"]
    assert Path(record.path).exists() and not Path(record.path).is_relative_to(indexed_corpus)
    (indexed_corpus / "briefs" / "deepseek-v3.md").unlink()

    report = ingest(index, [indexed_corpus], settings.chunking)

    assert report.removed == [str(indexed_corpus / "briefs" / "deepseek-v3.md")]
    assert not report.failed and not report.added and not report.updated
    assert not index.catalog.chunk_ids_of("briefs/deepseek-v3")
    assert "briefs/deepseek-v3" not in {r.source.id for r in index.catalog.documents()}
    again = ingest(index, [indexed_corpus], settings.chunking)
    assert not again.removed and len(again.unchanged) == len(list(indexed_corpus.rglob("*.md")))
