from __future__ import annotations

import itertools
from pathlib import Path

from helpers import CORPUS, make_pdf

from rag.chunking import chunk_document
from rag.embeddings import Embedder
from rag.loaders import load_document
from rag.tokens import count_tokens
from rag.types import Chunk, Document


def _chunks(path: Path, embedder: Embedder, **kw: int) -> tuple[Document, list[Chunk]]:
    doc = load_document(path, path.parent)
    return doc, chunk_document(doc, window_tokens=embedder.count_tokens, window=embedder.max_tokens, **kw)


def test_every_corpus_chunk_fits_the_model_window(embedder: Embedder) -> None:
    files = sorted(CORPUS.rglob("*.md"))
    assert len(files) >= 2
    for path in files:
        doc, chunks = _chunks(path, embedder)
        assert chunks, path
        for c in chunks:
            assert embedder.count_tokens(c.embedding_text) <= 256, (path, c.chunk_id)
            assert doc.text[c.start : c.end] == c.text  # offsets are exact
            assert c.source.title == doc.title


def test_a_huge_unpunctuated_paragraph_is_split_not_truncated(tmp_path: Path, embedder: Embedder) -> None:
    words = [f"semiconductor{i % 97} exportcontrol{i % 89}" for i in range(3000)]
    path = tmp_path / "wall.md"
    path.write_text("# Wall\n\n" + " ".join(words) + "\n")
    _doc, chunks = _chunks(path, embedder, max_tokens=400, overlap_tokens=0)
    assert len(chunks) > 10
    assert all(embedder.count_tokens(c.embedding_text) <= 256 for c in chunks)
    # Without overlap the chunks tile the text: every word is in exactly one chunk, in order.
    assert " ".join(c.text for c in chunks).split() == " ".join(words).split()


def test_chunks_are_sized_with_tiktoken_and_overlap(tmp_path: Path, embedder: Embedder) -> None:
    sentences = [f"Sentence number {i} says the H800 ships with reduced interconnect bandwidth." for i in range(60)]
    path = tmp_path / "s.md"
    path.write_text("# Topic\n\n" + " ".join(sentences) + "\n")
    _, chunks = _chunks(path, embedder, max_tokens=120, overlap_tokens=30)
    assert len(chunks) >= 4
    assert all(count_tokens(c.text) <= 120 for c in chunks)
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end, "consecutive chunks overlap"
        assert a.text.split(". ")[-1] in b.text


def test_heading_path_and_section_label(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "doc.md"
    path.write_text("# Title\n\n## Export rules\n\n### 2023 update\n\nThe rule covered the H800 as well.\n")
    _, chunks = _chunks(path, embedder)
    assert chunks[0].heading_path == ("Export rules", "2023 update")
    assert chunks[0].section == "Export rules › 2023 update"


def test_ids_are_stable_and_local_to_the_edit(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "doc.md"
    original = "# T\n\n## A\n\nAlpha section text about chips.\n\n## B\n\nBravo section text about rules.\n"
    path.write_text(original)
    _, first = _chunks(path, embedder)
    _, again = _chunks(path, embedder)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    path.write_text(original.replace("Bravo section", "Bravo (edited) section"))
    _, edited = _chunks(path, embedder)
    assert first[0].chunk_id == edited[0].chunk_id  # section A untouched
    assert first[1].chunk_id != edited[1].chunk_id


def test_pdf_chunks_carry_page_numbers(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "r.pdf"
    path.write_bytes(make_pdf(["Page one text about GPUs.", "Page two text about exports."]))
    _, chunks = _chunks(path, embedder)
    assert [(c.page, c.section) for c in chunks] == [(1, "p. 1"), (2, "p. 2")]
