"""Sentence choice for extractive answers, and primary sources of briefs, from the front
matter to the catalog (surviving a reopen) and back."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import CORPUS

from rag.catalog import Catalog
from rag.chunking import chunk_document
from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import DocumentError
from rag.loaders import load_document, parse_primary_sources
from rag.sentences import answer_scores, choose, question_shape
from rag.service import RagService, build_service
from rag.types import PrimarySource

BRIEF = """---
title: A brief
kind: brief
sources:
  - url: https://example.org/report
    title: The report (Jan 1, 2025)
  - url: https://example.org/maybe
    title: A page cited from memory
    unconfirmed: true
  - title: A rule with no address (90 FR 1)
---
# A brief

## Part
The Bureau of Industry and Security (BIS) wrote the rule. GRPO (Group Relative Policy Optimization) is cheap.
"""


def test_the_question_shape_and_the_sentence_it_prefers() -> None:
    assert question_shape("when did v3 come out?") == "when"
    assert question_shape("how much did r1 cost?") == "money"
    assert question_shape("how many GPUs?") == "number"
    assert question_shape("who founded it?") == "who"
    assert question_shape("why is it cheap?") is None
    sentences = ["DeepSeek released a model.", "DeepSeek released the model on January 20, 2025."]
    scores = answer_scores("when was it released?", sentences, [0.5, 0.5], [0, 0], 1)
    assert scores[1] > scores[0]


def test_choice_takes_the_best_anywhere_once_in_reading_order() -> None:
    scored = [
        (0.9, 1, 4, "The answer, in the second passage."),
        (0.5, 0, 0, "A weak sentence of the first passage."),
        (0.85, 0, 2, "A good sentence of the first passage."),
        (0.88, 2, 1, "The answer, in the second passage."),  # an overlapping passage repeats it
    ]
    picked = choose(scored, limit=3, keep_ratio=0.7)
    assert picked == [(0, 2, "A good sentence of the first passage."), (1, 4, "The answer, in the second passage.")]
    assert choose(scored, limit=1, keep_ratio=0.7) == [(1, 4, "The answer, in the second passage.")]


def test_primary_sources_go_from_the_front_matter_into_the_catalog(tmp_path: Path) -> None:
    path = tmp_path / "corpus" / "brief.md"
    path.parent.mkdir()
    path.write_text(BRIEF, encoding="utf-8")
    doc = load_document(path, path.parent)
    expected = (
        PrimarySource("The report (Jan 1, 2025)", "https://example.org/report", True),
        PrimarySource("A page cited from memory", "https://example.org/maybe", False),
        PrimarySource("A rule with no address (90 FR 1)", "", True),
    )
    assert doc.primary_sources == expected
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    catalog.replace_document(doc, chunk_document(doc, max_tokens=180, overlap_tokens=40))
    catalog.close()
    reopened = Catalog(tmp_path / "catalog.sqlite3")
    chunk = next(reopened.iter_chunks())
    assert chunk.source.primary_sources == expected
    assert reopened.documents()[0].source.primary_sources == expected
    reopened.close()


def test_an_older_catalog_gets_primary_sources_from_the_front_matter_it_stored(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "old.sqlite3")
    db.execute(
        "CREATE TABLE documents (source_id TEXT PRIMARY KEY, path TEXT NOT NULL, content_hash TEXT NOT NULL,"
        " title TEXT NOT NULL, url TEXT NOT NULL, publisher TEXT NOT NULL, published TEXT NOT NULL,"
        " kind TEXT NOT NULL, extra TEXT NOT NULL, ingested_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    extra = {"sources": json.dumps([{"url": "https://example.org/r", "title": "R", "unconfirmed": True}])}
    db.execute("INSERT INTO documents VALUES ('b', 'b.md', 'h', 'B', '', '', '', 'brief', ?, '')", (json.dumps(extra),))
    db.commit()
    db.close()
    catalog = Catalog(tmp_path / "old.sqlite3")
    assert catalog.documents()[0].source.primary_sources == (PrimarySource("R", "https://example.org/r", False),)
    catalog.close()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('"just text"', "must be a list"),
        ("[1]", "entry 1 must be a mapping"),
        ('[{"unconfirmed": true}]', "entry 1 has neither a title nor a url"),
        ('[{"url": "ftp://x"}]', r"is not an http\(s\) address"),
    ],
)
def test_malformed_primary_sources_are_named(raw: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        parse_primary_sources(raw)


def test_every_brief_lists_a_primary_source_and_most_a_link() -> None:
    briefs = [load_document(p, CORPUS) for p in sorted((CORPUS / "briefs").glob("*.md"))]
    assert all(b.primary_sources for b in briefs)
    # The fact sheet gives no address for the API notes and the app bans; every other brief links one.
    unlinked = {b.source_id for b in briefs if not any(s.url for s in b.primary_sources)}
    assert unlinked == {"briefs/deepseek-api-usage", "briefs/deepseek-app-bans-and-restrictions"}


@pytest.fixture
def corpus_service(make_settings: Callable[..., Settings], indexed_corpus: Path, embedder: Embedder) -> RagService:
    service = build_service(make_settings(), embedder=embedder)
    service.prepare_sync()
    return service


async def test_the_extractive_answer_names_the_chips(corpus_service: RagService) -> None:
    answer = await corpus_service.answer("What chips did DeepSeek train V3 on?")
    assert not answer.refused and "2,048 Nvidia H800 GPUs" in answer.text
    # The answer opens with the chips (it used to open with the licence and the cost).
    first, second = answer.text.split(" [")[0], answer.text.split("] ")[1]
    assert "H800" in first and "H800" in second
    assert answer.citations[0].title.startswith("Corrections to the DeepSeek article")
