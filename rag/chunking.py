"""Heading-aware chunking sized with tiktoken, with overlap, and checked against the embedding window."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rag.text import SENTENCE_END
from rag.tokens import count_tokens
from rag.types import Chunk, Document, Section, SourceInfo

_WORD = re.compile(r"\S+\s*")


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int  # offsets into Document.text
    end: int
    tokens: int


def source_info(doc: Document) -> SourceInfo:
    return SourceInfo(doc.source_id, doc.title, doc.url, doc.publisher, doc.published, doc.kind, doc.primary_sources)


def chunk_id_for(source_id: str, heading_path: tuple[str, ...], text: str) -> str:
    """Content-derived id: the same passage of the same source always gets the same id."""
    digest = hashlib.sha256("\x1f".join((source_id, *heading_path, text)).encode()).hexdigest()
    return digest[:24]


def chunk_document(
    doc: Document,
    *,
    max_tokens: int = 180,
    overlap_tokens: int = 40,
    window_tokens: Callable[[str], int] | None = None,
    window: int = 256,
) -> list[Chunk]:
    """Split each section into chunks of at most `max_tokens` tiktoken tokens, consecutive chunks sharing
    about `overlap_tokens`. If `window_tokens` is given, every chunk's embedding text also fits `window` of
    the embedding model's own tokens: chunks that would not are split further, never truncated."""
    source = source_info(doc)
    chunks: list[Chunk] = []
    for section in doc.sections:
        for start, end in _pack(doc.text, section, max_tokens, overlap_tokens):
            chunks.extend(_fit_window(doc.text, source, section, start, end, window_tokens, window))
    return chunks


def _units(text: str, section: Section, max_tokens: int) -> list[_Unit]:
    """Sentences of the section (offsets into the document), long ones cut at word boundaries."""
    units: list[_Unit] = []
    base = section.start
    pos = 0
    for match in [*SENTENCE_END.finditer(section.text), None]:
        end = match.end() if match else len(section.text)
        piece = section.text[pos:end]
        if piece.strip():
            units.extend(_split_long(text, base + pos, base + end, max_tokens))
        pos = end
    return units


def _split_long(text: str, start: int, end: int, max_tokens: int) -> Iterator[_Unit]:
    tokens = count_tokens(text[start:end])
    if tokens <= max_tokens:
        yield _Unit(start, end, tokens)
        return
    piece_start = start
    piece_tokens = 0
    for word in _WORD.finditer(text, start, end):
        word_tokens = count_tokens(word.group())
        if piece_tokens and piece_tokens + word_tokens > max_tokens:
            yield _Unit(piece_start, word.start(), piece_tokens)
            piece_start, piece_tokens = word.start(), 0
        piece_tokens += word_tokens
    if piece_start < end:
        yield _Unit(piece_start, end, piece_tokens)


def _pack(text: str, section: Section, max_tokens: int, overlap_tokens: int) -> Iterator[tuple[int, int]]:
    """Greedy packing of sentences into (start, end) spans; each span after the first begins with the
    trailing sentences of the previous one that fit in `overlap_tokens`."""
    units = _units(text, section, max_tokens)
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + units[j].tokens <= max_tokens):
            total += units[j].tokens
            j += 1
        yield units[i].start, units[j - 1].end
        if j >= len(units):
            return
        back, carried = j, 0
        while back - 1 > i and carried + units[back - 1].tokens <= overlap_tokens:
            back -= 1
            carried += units[back].tokens
        i = back


def _make_chunk(text: str, source: SourceInfo, section: Section, start: int, end: int) -> Chunk | None:
    raw = text[start:end]
    stripped = raw.strip()
    if not stripped:
        return None
    start += len(raw) - len(raw.lstrip())
    end = start + len(stripped)
    return Chunk(
        chunk_id=chunk_id_for(source.id, section.heading_path, stripped),
        source=source,
        text=stripped,
        heading_path=section.heading_path,
        start=start,
        end=end,
        page=section.page,
    )


def _fit_window(
    text: str,
    source: SourceInfo,
    section: Section,
    start: int,
    end: int,
    window_tokens: Callable[[str], int] | None,
    window: int,
) -> list[Chunk]:
    chunk = _make_chunk(text, source, section, start, end)
    if chunk is None:
        return []
    if window_tokens is None or window_tokens(chunk.embedding_text) <= window:
        return [chunk]
    words = list(_WORD.finditer(text, chunk.start, chunk.end))
    if len(words) < 2:
        raise ValueError(f"a single word in {source.id} does not fit the embedding window")
    cut = words[len(words) // 2].start()
    return [
        *_fit_window(text, source, section, chunk.start, cut, window_tokens, window),
        *_fit_window(text, source, section, cut, chunk.end, window_tokens, window),
    ]
