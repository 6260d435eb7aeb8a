from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ARTICLE, ARTICLE_ID, make_pdf

from rag.errors import DocumentError
from rag.loaders import MAX_FRONT_MATTER_DEPTH, load_document, parse_sections, split_front_matter


def test_article_front_matter_and_sections() -> None:
    doc = load_document(ARTICLE, ARTICLE.parent)
    assert doc.source_id == ARTICLE_ID
    assert doc.title.startswith("Will China")
    assert doc.url == "https://tobiasholm.com/tech/will-chinas-new-ai-model-deepseek-threaten-us-dominance"
    assert doc.kind == "article"
    assert "published_note" in doc.extra
    history = [s for s in doc.sections if s.heading_path and s.heading_path[0].startswith("2. DeepSeek")]
    assert "founded by Liang Wenfeng" in history[0].text
    for section in doc.sections:  # offsets point at the exact characters
        assert doc.text[section.start : section.start + len(section.text)] == section.text


def test_title_from_first_heading_then_file_name(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("Intro line.\n\n# Chip rules explained\n\nBody text here.\n")
    (tmp_path / "h20-licence_story.txt").write_text("Plain text with no heading at all.\n")
    assert load_document(tmp_path / "notes.md").title == "Chip rules explained"
    assert load_document(tmp_path / "h20-licence_story.txt").title == "H20 licence story"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty"),
        ("blank.md", b"  \n\n \t\n", "empty"),
        ("binary.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1"), "UTF-8"),
        ("bad-yaml.md", b"---\ntitle: [unclosed\n---\nBody.\n", "front matter"),
        ("list-yaml.md", b"---\n- a\n- b\n---\nBody.\n", "mapping"),
        ("only-front.md", b"---\ntitle: Nothing else\n---\n", "no text"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "PDF"),
    ],
)
def test_unusable_files_raise_a_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason):
        load_document(path)


def test_html_keeps_main_text_and_metadata(tmp_path: Path) -> None:
    body = " ".join(["The October 2022 rule limited exports of advanced AI chips to China."] * 6)
    html = f"""<html><head><title>Export rules | Example News</title>
    <meta property="og:site_name" content="Example News"><meta name="date" content="2024-12-02"></head>
    <body><nav><a href="/">Home</a> <a href="/about">About us</a> Subscribe now</nav>
    <article><h1>Export rules</h1><h2>The 2022 rule</h2><p>{body}</p></article>
    <footer>Copyright footer text</footer></body></html>"""
    path = tmp_path / "rules.html"
    path.write_text(html)
    doc = load_document(path)
    assert "October 2022 rule" in doc.text
    assert "Subscribe now" not in doc.text and "Copyright footer" not in doc.text
    assert doc.title.startswith("Export rules")
    assert any(s.heading_path and s.heading_path[-1] == "The 2022 rule" for s in doc.sections)


def test_pdf_pages_keep_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(["First page about GPUs.", "Second page about H800 exports."], title="GPU report"))
    doc = load_document(path)
    assert doc.title == "GPU report"
    pages = {s.page: s.text.strip() for s in doc.sections}
    assert pages[1] == "First page about GPUs."
    assert pages[2] == "Second page about H800 exports."


def test_headings_inside_code_fences_are_not_sections() -> None:
    sections = parse_sections("# Real\n\n```\n# not a heading\n```\n\n## Sub\ntext\n")
    assert [s.heading_path for s in sections if s.text.strip()] == [("Real",), ("Real", "Sub")]


def test_front_matter_nesting_has_a_limit_checked_before_yaml_parses_it() -> None:
    """PyYAML takes quadratic time on deep nesting (0.5 s for 5,000 brackets): past 64 levels the file is refused
    before it is parsed; up to that, brackets are values like any other."""
    deepest = "[" * MAX_FRONT_MATTER_DEPTH + "x" + "]" * MAX_FRONT_MATTER_DEPTH
    within = f"---\ntitle: {deepest}\n---\n# T\n\nText.\n"
    fields, body = split_front_matter(within)
    assert fields["title"].count("[") == MAX_FRONT_MATTER_DEPTH and body == "# T\n\nText.\n"
    past = within.replace("title: ", "title: [", 1).replace("\n---\n#", "]\n---\n#", 1)
    with pytest.raises(DocumentError, match="front matter nested too deeply"):
        split_front_matter(past)
