"""Ingestion against hostile or careless corpora: links out of the corpus, files from elsewhere, the same file
under two ids, YAML alias bombs, oversized files, an embedding endpoint that gives up halfway."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from fakes.openai_server import FakeOpenAI
from helpers import ARTICLE, ARTICLE_ID, CORPUS

from rag.config import Settings
from rag.index import Index, open_index
from rag.ingest import EMBED_BATCH, ingest

SettingsFactory = Callable[..., Settings]
SECRET = "secret-key-123"


def _keyword_index(make_settings: SettingsFactory) -> tuple[Index, Settings]:
    """Identity and skipping do not depend on vectors: keyword mode keeps these tests fast."""
    settings = make_settings()
    return open_index(settings, lexical_only=True), settings


def _ids(index: Index) -> list[str]:
    return [r.source.id for r in index.catalog.documents()]


def _all_text(index: Index) -> str:
    return " ".join(c.text for c in index.catalog.iter_chunks())


def test_links_leaving_the_corpus_are_skipped_and_named(
    make_settings: SettingsFactory, article_corpus: Path, tmp_path: Path
) -> None:
    (tmp_path / "dot-env").write_text(f"RAGBOT_LLM__API_KEY={SECRET}\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "leak.md").write_text(f"# Leak\n\nThe key is {SECRET}.\n")
    os.symlink("../dot-env", article_corpus / "notes.txt")
    os.symlink("/etc/passwd", article_corpus / "passwd.txt")
    os.symlink(outside, article_corpus / "more")  # a folder link: its files leave the corpus too
    os.symlink(ARTICLE.name, article_corpus / "alias.md")  # a link inside the corpus is fine
    index, settings = _keyword_index(make_settings)

    report = ingest(index, [article_corpus], settings.chunking, root=article_corpus)

    skipped = {Path(p).name: reason for p, reason in report.skipped}
    assert set(skipped) >= {"notes.txt", "passwd.txt"} and "outside the corpus folder" in skipped["notes.txt"]
    assert sorted(_ids(index)) == ["alias", ARTICLE_ID] and not report.failed
    assert SECRET not in _all_text(index) and "root:" not in _all_text(index)
    assert "skipped" in report.summary()


def test_a_file_from_outside_the_corpus_cannot_take_an_articles_id(
    make_settings: SettingsFactory, article_corpus: Path, tmp_path: Path
) -> None:
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / ARTICLE.name).write_text("# Fake\n\nDeepSeek was founded by Elon Musk in 1990.\n")
    index, settings = _keyword_index(make_settings)
    ingest(index, [article_corpus], settings.chunking, root=article_corpus)
    before = index.catalog.all_chunk_ids()

    report = ingest(index, [evil / ARTICLE.name], settings.chunking, root=article_corpus)

    assert [reason for _, reason in report.failed] == [
        f"outside the corpus folder {article_corpus}; copy it there to index it"
    ]
    assert not report.updated and index.catalog.all_chunk_ids() == before
    assert "Elon Musk" not in _all_text(index)


def test_one_file_is_one_source_whatever_folder_the_command_names(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index, settings = _keyword_index(make_settings)
    # An older ragbot named sources after the folder it was given: "deepseek-r1" beside "briefs/deepseek-r1".
    ingest(index, [corpus / "briefs"], settings.chunking)
    first = ingest(index, [corpus], settings.chunking, root=corpus)
    assert len(first.removed) == 14  # those duplicates are gone
    ids = _ids(index)
    assert "briefs/deepseek-r1" in ids and "deepseek-r1" not in ids and len(ids) == 15

    again = ingest(index, [corpus / "briefs"], settings.chunking, root=corpus)
    assert len(again.unchanged) == 14 and not again.added and not again.removed
    assert _ids(index) == ids


def test_an_alias_bomb_in_front_matter_fails_alone(make_settings: SettingsFactory, article_corpus: Path) -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n, name in enumerate("bcd"):
        prev = "abcd"[n]
        levels.append(f"{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    (article_corpus / "bomb.md").write_text("---\n" + "\n".join(levels) + "\ntitle: Bomb\n---\n# Bomb\n\nText.\n")
    (article_corpus / "huge-meta.md").write_text("---\ntitle: " + "x" * 20_000 + "\n---\n# Huge\n\nText.\n")
    index, settings = _keyword_index(make_settings)

    report = ingest(index, [article_corpus], settings.chunking, root=article_corpus)

    failed = {Path(p).name: reason for p, reason in report.failed}
    assert failed == {
        "bomb.md": "YAML anchors and aliases (& and *) are not allowed in front matter",
        "huge-meta.md": "front matter longer than 16,000 characters",
    }
    assert _ids(index) == [ARTICLE_ID]


def test_files_over_the_size_limit_are_skipped_and_named(make_settings: SettingsFactory, article_corpus: Path) -> None:
    (article_corpus / "dump.md").write_text("# Dump\n\n" + "Words about chips. " * 2000)
    index, settings = _keyword_index(make_settings)

    report = ingest(index, [article_corpus], settings.chunking, root=article_corpus, max_file_bytes=30_000)

    assert [(Path(p).name, r) for p, r in report.skipped] == [
        ("dump.md", "0.0 MB, over the 0.03 MB limit (RAGBOT_INGEST__MAX_FILE_MB)")
    ]
    assert _ids(index) == [ARTICLE_ID]


async def test_an_interrupted_long_document_keeps_the_vectors_already_made(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    """Vectors are stored batch by batch: the next run embeds only the rest, and until the document is
    complete the catalog never lists it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    paragraphs = [f"Paragraph {n} records that export rule {n} covers chip model {n * 3}." for n in range(600)]
    (corpus / "long.md").write_text("# Long\n\n" + "\n\n".join(paragraphs) + "\n")
    async with FakeOpenAI() as fake:
        settings = make_settings(
            corpus_dir=corpus,
            chunking={"max_tokens": 32, "overlap_tokens": 0},
            embedding={"backend": "openai", "base_url": fake.base_url, "model": "fake-embed", "batch_size": 1024},
        )
        index = open_index(settings)
        fake.embedding_budget = 2  # the endpoint gives up after two batches
        first = await asyncio.to_thread(ingest, index, [corpus], settings.chunking, root=corpus)
        assert [Path(p).name for p, _ in first.failed] == ["long.md"] and _ids(index) == []
        assert index.store is not None and len(index.store.all_ids()) == 2 * EMBED_BATCH

        fake.embedding_budget = None
        second = await asyncio.to_thread(ingest, index, [corpus], settings.chunking, root=corpus)
    total = len(index.catalog.all_chunk_ids())
    assert second.added and total > 2 * EMBED_BATCH
    assert second.chunks_embedded == total - 2 * EMBED_BATCH  # only what the first run had not stored


def test_front_matter_with_impossible_dates_or_deep_nesting_fails_alone(
    make_settings: SettingsFactory, article_corpus: Path
) -> None:
    """Found by the property suite: these escaped as ValueError / RecursionError and stopped the whole ingest."""
    (article_corpus / "date.md").write_text("---\ntitle: Dated\npublished: 2025-13-45\n---\n# Dated\n\nText.\n")
    (article_corpus / "deep.md").write_text("---\ntitle: " + "[" * 5000 + "\n---\n# Deep\n\nText.\n")
    index, settings = _keyword_index(make_settings)

    report = ingest(index, [article_corpus], settings.chunking, root=article_corpus)

    failed = {Path(p).name: reason for p, reason in report.failed}
    assert failed == {
        "date.md": "front matter holds an impossible value (month must be in 1..12)",
        "deep.md": "front matter nested too deeply",
    }
    assert _ids(index) == [ARTICLE_ID]


def test_a_link_indexed_by_an_older_version_is_removed(
    make_settings: SettingsFactory, article_corpus: Path, tmp_path: Path
) -> None:
    (tmp_path / "dot-env").write_text(f"RAGBOT_LLM__API_KEY={SECRET}\n")
    os.symlink("../dot-env", article_corpus / "notes.txt")
    index, settings = _keyword_index(make_settings)
    ingest(index, [article_corpus], settings.chunking, root=tmp_path)  # as if the link had been followed
    assert SECRET in _all_text(index)

    report = ingest(index, [article_corpus], settings.chunking, root=article_corpus)

    assert SECRET not in _all_text(index) and _ids(index) == [ARTICLE_ID]
    assert str(article_corpus / "notes.txt") in report.removed
