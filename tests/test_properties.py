"""Property-based checks (Hypothesis): arbitrary Unicode, control characters, escape sequences and sizes thrown at
every pure function that meets outside text. The invariants: only our clear error types escape, cleaned text is
storable and printable, no Discord piece exceeds its limit, no [n] marker is cut, nothing is written on refusal.

Example counts are modest so the file runs in seconds; Hypothesis keeps failing examples in its database."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.rendering import EMBED_DESCRIPTION_LIMIT, MESSAGE_LIMIT, render_answer, split_text
from curation.db import Database, resolve_url
from curation.db.transfer import parse_entries
from curation.faq import validate_faq
from rag.chunking import chunk_document
from rag.citations import MARKER, cited_claims, parse_marker, resolve_citations
from rag.errors import DocumentError, QuestionError, UserFacingError
from rag.loaders import load_document, parse_sections, split_front_matter
from rag.service import validate_question
from rag.text import clean_text
from rag.types import Answer, Chunk, Citation, Document, Passage, SourceInfo
from ragbot.terminal import render_answer as render_terminal

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every code point, surrogates included (what invalid UTF-8 in argv or "\ud800" in JSON becomes), weighted
# towards the characters that break things: controls, escapes, newlines, brackets, backticks, digits.
_NASTY = st.sampled_from(
    ["\x00", "\x07", "\x1b", "\x1b[2J", "\x1b]52;c;eA==\x07", "\x9b", "\r", "\n", "\t", "\ud800", "\udfff",
     "[1]", "[", "]", "```", "---\n", "&a", "*a", "@everyone", "\u202e", "\ufeff", " "]
)  # fmt: skip
_ANY_CHAR = st.characters(codec=None, categories=None)
TEXT = st.lists(st.one_of(_NASTY, st.text(_ANY_CHAR, max_size=12)), max_size=40).map("".join)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _storable(text: str) -> bool:
    """Encodable as UTF-8 (so by every database, tokenizer and terminal) and free of control characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return _CONTROL.search(text) is None


@FAST
@given(TEXT)
def test_clean_text_is_storable_and_idempotent(text: str) -> None:
    cleaned = clean_text(text)
    assert _storable(cleaned) and "\x1b" not in cleaned
    assert clean_text(cleaned) == cleaned


@FAST
@given(TEXT, st.integers(min_value=1, max_value=300))
def test_question_validation_gives_a_storable_question_or_a_clear_error(text: str, limit: int) -> None:
    try:
        question = validate_question(text, limit)
    except QuestionError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert question and len(question) <= limit and _storable(question) and "\n" not in question


@FAST
@given(TEXT, TEXT)
def test_front_matter_parsing_gives_fields_or_a_document_error(meta: str, body: str) -> None:
    try:
        fields, rest = split_front_matter(f"---\n{meta}\n---\n{body}")
    except DocumentError as exc:
        assert str(exc)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
    assert rest.endswith(body)


@FAST
@given(st.binary(max_size=400) | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_file_loads_cleanly_or_is_refused_with_a_reason(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "source.md"
        path.write_bytes(data)
        try:
            doc = load_document(path, Path(folder))
        except DocumentError as exc:
            assert str(exc)
            return
    assert doc.source_id == "source" and _storable(doc.text.replace("\n", "").replace("\t", ""))
    assert all(_storable(v) for v in (doc.title, *doc.extra.values()))


@FAST
@given(TEXT, st.integers(min_value=32, max_value=120), st.integers(min_value=0, max_value=31))
def test_chunks_are_nonempty_slices_of_the_document(text: str, max_tokens: int, overlap: int) -> None:
    body = clean_text(text)
    doc = Document("s", "s.md", "S", body, tuple(parse_sections(body)), "h")
    for chunk in chunk_document(doc, max_tokens=max_tokens, overlap_tokens=overlap):
        assert chunk.text.strip() and body[chunk.start : chunk.end] == chunk.text


_MARKED = st.lists(
    st.one_of(TEXT, st.integers(min_value=0, max_value=30).map(lambda n: f" [{n}]"), st.just(" [1, 3-5] ")),
    max_size=20,
).map("".join)


@FAST
@given(_MARKED)
def test_citation_parsing_never_fails_and_renumbers_into_range(text: str) -> None:
    source = SourceInfo("s", "Source", "", "", "", "")
    passages = [Passage(Chunk(f"c{i}", source, f"Fact number {i} about chips.", (), 0, 20), 1.0) for i in range(3)]
    for _claim, numbers in cited_claims(text):
        assert all(n >= 0 for n in numbers)
    resolved = resolve_citations(text, passages)
    used = {int(n) for body in MARKER.findall(resolved.text) for n in parse_marker(body)}
    assert used == {c.n for c in resolved.citations} and used <= {1, 2, 3}


_PROSE = st.lists(
    st.one_of(
        st.text(st.characters(codec="utf-8", exclude_characters="[]`"), max_size=300),
        st.integers(min_value=1, max_value=99).map(lambda n: f"[{n}]"),
        st.sampled_from([" ", "\n", "\n\n", ". ", "x" * 2500]),
    ),
    max_size=30,
).map("".join)


@FAST
@given(_PROSE, st.integers(min_value=40, max_value=MESSAGE_LIMIT))
def test_split_pieces_fit_and_never_cut_a_marker(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(len(p) <= limit for p in pieces)
    assert sorted(MARKER.findall("\n".join(pieces))) == sorted(MARKER.findall(text))


@FAST
@given(TEXT, st.lists(st.tuples(TEXT, TEXT, TEXT), max_size=12))
def test_rendered_answers_fit_discord(text: str, sources: list[tuple[str, str, str]]) -> None:
    citations = tuple(
        Citation(n, f"c{n}", title, "https://example.org", "2025", section, quote)
        for n, (title, section, quote) in enumerate(sources, 1)
    )
    rendered = render_answer(Answer(text * 50, citations, bool(citations), False, "generative"))
    assert all(len(m) <= MESSAGE_LIMIT for m in rendered.messages)
    if rendered.embed is not None:
        assert len(rendered.embed.description or "") <= EMBED_DESCRIPTION_LIMIT and len(rendered.embed) <= 6000


@FAST
@given(TEXT, TEXT)
def test_faq_validation_accepts_only_storable_text(question: str, answer: str) -> None:
    try:
        q, a = validate_faq(question, answer)
    except UserFacingError as exc:
        assert str(exc)
        return
    for text in (q, a):  # moderators' line breaks may come as \r\n from a Discord modal
        assert _storable(re.sub(r"[\r\n\t]", "", text))


_ENTRY = st.one_of(
    st.fixed_dictionaries({"question": TEXT, "answer": TEXT}),
    st.dictionaries(st.sampled_from(["question", "answer", "format", "citations"]), st.none() | TEXT | st.integers()),
    TEXT,
)


@pytest.fixture(scope="module")
def faq_file() -> str:
    """One SQLite file for every example (migrated once); each example uses its own guild id."""
    folder = tempfile.mkdtemp()
    asyncio.run(_open_and_close(resolve_url(Path(folder))))
    return resolve_url(Path(folder))


async def _open_and_close(url: str) -> None:
    await (await Database.open(url)).close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_ENTRY, min_size=1, max_size=5), st.integers(min_value=1, max_value=2**62))
def test_faq_import_adds_all_or_nothing(faq_file: str, entries: list[object], guild: int) -> None:
    try:
        parse_entries(entries)
        valid = True
    except UserFacingError as exc:
        assert re.match(r"Entry \d+: ", str(exc)) or "JSON list" in str(exc)
        valid = False
    assume(valid or len(entries) > 0)

    async def run() -> tuple[int | None, int]:
        async with await Database.open(faq_file) as db:
            try:
                added: int | None = await db.import_faqs(entries, guild, author_id=1)
            except UserFacingError:
                added = None
            return added, len(await db.faqs_for_guild(guild))

    added, stored = asyncio.run(run())
    assert (added is None) == (not valid)
    assert stored == (added or 0)  # a refused import wrote nothing


@FAST
@given(TEXT, st.lists(st.tuples(TEXT, TEXT), max_size=4), st.lists(TEXT, max_size=2))
def test_terminal_rendering_prints_no_control_sequences(
    text: str, sources: list[tuple[str, str]], notes: list[str]
) -> None:
    citations = tuple(Citation(n, f"c{n}", t, "", "2025", s, "q") for n, (t, s) in enumerate(sources, 1))
    printed = render_terminal(Answer(text, citations, bool(citations), False, "generative", notes=tuple(notes)))
    assert _storable(printed.replace("\n", "").replace("\t", ""))
