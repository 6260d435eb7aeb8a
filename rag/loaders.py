"""Reading corpus files into Documents: Markdown/text with YAML front matter, HTML (main text), PDF (per page)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import yaml

from rag.errors import DocumentError
from rag.text import clean_text
from rag.types import Document, PrimarySource, Section

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
_META_FIELDS = ("title", "url", "publisher", "published", "kind")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# Front matter holds a few fields; anything longer is a mistake or an attack, not metadata.
MAX_FRONT_MATTER_CHARS = 16_000
MAX_FRONT_MATTER_DEPTH = 64  # [ and { nested deeper than this: refused before YAML parses it
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_id_for(path: Path, root: Path | None) -> str:
    """A stable id for a file: its path under the corpus root, without suffix, with forward slashes. The folder
    is resolved, the file's own name is not (a link inside the corpus is named where it sits)."""
    try:
        where = path.parent.resolve() / path.name
        rel = where.relative_to(root.resolve()) if root else Path(path.name)
    except ValueError:
        rel = Path(path.name)
    return rel.with_suffix("").as_posix()


def load_document(path: Path, root: Path | None = None) -> Document:
    """Load one corpus file. Raises DocumentError (with a reason a curator can act on) if it is unusable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise DocumentError("file is empty")
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        meta, body = _read_pdf(data)
        sections = _pdf_sections(body)
    elif suffix in HTML_SUFFIXES:
        meta, body = _read_html(_decode(data))
        sections = parse_sections(body)
    elif suffix in TEXT_SUFFIXES:
        meta, body = split_front_matter(_decode(data))
        sections = parse_sections(body)
    else:
        raise DocumentError(f"unsupported file type {suffix or '(none)'}")
    if not any(s.text.strip() for s in sections):
        raise DocumentError("no text found")
    return _build_document(path, root, data, meta, body, sections)


def _build_document(
    path: Path, root: Path | None, data: bytes, meta: dict[str, str], body: str, sections: list[Section]
) -> Document:
    title = meta.get("title") or _first_heading(sections) or _title_from_name(path)
    # A top heading that only repeats the title adds nothing to the section path.
    sections = [_drop_title(s, title) for s in sections]
    extra = {k: v for k, v in meta.items() if k not in _META_FIELDS}
    return Document(
        source_id=source_id_for(path, root),
        path=str(path),
        title=title,
        text=body,
        sections=tuple(s for s in sections if s.text.strip()),
        content_hash=content_hash(data),
        url=meta.get("url", ""),
        publisher=meta.get("publisher", ""),
        published=meta.get("published", ""),
        kind=meta.get("kind", ""),
        extra=extra,
        primary_sources=parse_primary_sources(meta.get("sources", "")),
    )


def parse_primary_sources(raw: str) -> tuple[PrimarySource, ...]:
    """A brief's front matter `sources:` (a list of mappings with `title`, `url`, optional `unconfirmed: true`),
    as stored text (JSON). Raises DocumentError naming the bad entry: a curator fixes it, nothing is guessed."""
    if not raw.strip():
        return ()
    try:
        entries = json.loads(raw)
    except ValueError:
        entries = None
    if not isinstance(entries, list):
        raise DocumentError("front matter `sources` must be a list of entries with a title and/or url")
    found: list[PrimarySource] = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise DocumentError(f"front matter `sources` entry {number} must be a mapping (title, url)")
        title, url = str(entry.get("title") or "").strip(), str(entry.get("url") or "").strip()
        if not (title or url):
            raise DocumentError(f"front matter `sources` entry {number} has neither a title nor a url")
        if url and not url.startswith(("https://", "http://")):
            raise DocumentError(f"front matter `sources` entry {number}: url {url!r} is not an http(s) address")
        found.append(PrimarySource(title or url, url, confirmed=entry.get("unconfirmed") is not True))
    return tuple(found)


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError("binary content in a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not valid UTF-8 text (byte {exc.start})") from exc
    # Source text is quoted in answers and printed in terminals: no escape sequences or control characters.
    return clean_text(text)


def _stringify(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip()
    if value is None:
        return ""
    return json.dumps(value, default=str, ensure_ascii=False)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split YAML front matter from the body. The body keeps its place: offsets stay valid against it."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    if len(match.group(1)) > MAX_FRONT_MATTER_CHARS:
        raise DocumentError(f"front matter longer than {MAX_FRONT_MATTER_CHARS:,} characters")
    if _bracket_depth(match.group(1)) > MAX_FRONT_MATTER_DEPTH:  # PyYAML takes quadratic time to find out
        raise DocumentError("front matter nested too deeply")
    try:
        raw = yaml.load(match.group(1), Loader=_FrontMatterLoader)  # a SafeLoader without aliases
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise DocumentError(f"malformed YAML front matter{where}") from exc
    except ValueError as exc:  # a date YAML recognises but the calendar has not ("2025-13-45")
        raise DocumentError(f"front matter holds an impossible value ({exc})") from exc
    except RecursionError:  # brackets nested thousands deep
        raise DocumentError("front matter nested too deeply") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DocumentError("front matter must be a YAML mapping (key: value lines)")
    return {str(k): _stringify(v) for k, v in raw.items()}, text[match.end() :]


def _bracket_depth(text: str) -> int:
    """How deep [ and { nest in `text` (quoted ones count too: front matter never comes near the limit)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
    return deepest


class _FrontMatterLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """SafeLoader refusing anchors and aliases: a few hundred bytes of nested aliases ("billion laughs") expand
    to gigabytes once the values are turned into text, and front matter never needs them."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise DocumentError("YAML anchors and aliases (& and *) are not allowed in front matter")
        return super().compose_node(parent, index)


def parse_sections(body: str) -> list[Section]:
    """Split Markdown/plain text at headings. Each section's text keeps its exact characters and offset."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    start = 0
    pos = 0
    in_fence = False
    for line in body.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(stripped)
        if match:
            sections.append(Section(tuple(h for _, h in stack), body[start:pos], start))
            level = len(match.group(1))
            stack = [(lvl, h) for lvl, h in stack if lvl < level] + [(level, match.group(2))]
            start = pos + len(line)
        pos += len(line)
    sections.append(Section(tuple(h for _, h in stack), body[start:], start))
    return sections


def _first_heading(sections: list[Section]) -> str:
    for s in sections:
        if s.heading_path:
            return s.heading_path[0]
    return ""


def _title_from_name(path: Path) -> str:
    words = re.sub(r"[-_]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


def _drop_title(section: Section, title: str) -> Section:
    if section.heading_path and _norm(section.heading_path[0]) == _norm(title):
        return Section(section.heading_path[1:], section.text, section.start, section.page)
    return section


def _norm(s: str) -> str:
    return re.sub(r"\W+", " ", s).strip().lower()


def _read_html(html: str) -> tuple[dict[str, str], str]:
    import trafilatura  # imported lazily: heavy, and only HTML sources need it

    body = trafilatura.extract(html, output_format="markdown", include_comments=False, include_tables=True)
    if not body or not body.strip():
        raise DocumentError("no main text found in the HTML")
    meta: dict[str, str] = {}
    info = trafilatura.extract_metadata(html)
    if info is not None:
        for key, attr in (
            ("title", "title"),
            ("url", "url"),
            ("publisher", "sitename"),
            ("published", "date"),
        ):
            value = getattr(info, attr, None)
            if value:
                meta[key] = str(value)
    meta.setdefault("kind", "web page")
    return meta, body


_PAGE_BREAK = "\f"


def _read_pdf(data: bytes) -> tuple[dict[str, str], str]:
    """The PDF's text, pages separated by form feeds so sections can keep their page numbers."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"unreadable PDF ({type(exc).__name__}: {exc})") from exc
    meta: dict[str, str] = {"kind": "pdf"}
    if info is not None and info.title and info.title.strip():
        meta["title"] = info.title.strip()
    return meta, _PAGE_BREAK.join(p.replace(_PAGE_BREAK, " ") for p in pages)


def _pdf_sections(body: str) -> list[Section]:
    sections: list[Section] = []
    offset = 0
    for number, page_text in enumerate(body.split(_PAGE_BREAK), 1):
        sections.append(Section((), page_text, offset, page=number))
        offset += len(page_text) + len(_PAGE_BREAK)
    return sections


# --- pages fetched from the web (rag.web) ------------------------------------------------------------------
WEB_KINDS = {"html": "web page", "pdf": "pdf", "text": "text"}


def load_web_document(data: bytes, *, kind: str, url: str, source_id: str, charset: str = "") -> Document:
    """A downloaded page as a Document cited with `url`: the page a reader clicks is the one the curator gave,
    whatever canonical address the page claims. Plain text is taken as it is (its front matter, if any, is not
    trusted as metadata: a page must not choose its own citation link). Raises DocumentError."""
    if not data.strip():
        raise DocumentError("the page is empty")
    if kind == "pdf":
        meta, body = _read_pdf(data)
        sections = _pdf_sections(body)
    elif kind == "html":
        meta, body = _read_html(_decode_web(data, charset))
        sections = parse_sections(body)
    elif kind == "text":
        meta, body = {}, _decode_web(data, charset)
        sections = parse_sections(body)
    else:
        raise DocumentError(f"unsupported page type {kind}")
    if not any(s.text.strip() for s in sections):
        raise DocumentError("no text found on the page")
    host = _host_of(url)
    meta |= {"url": url, "kind": WEB_KINDS[kind]}
    meta.setdefault("publisher", host)
    meta["title"] = meta.get("title") or _first_heading(sections) or _title_from_url(url)
    document = _build_document(Path(source_id), None, data, meta, body, sections)
    return dataclasses.replace(document, source_id=source_id, path=url, extra={"origin": "url"})


def _decode_web(data: bytes, charset: str) -> str:
    """The page's text in the charset its server declared; when none, UTF-8 if it is valid UTF-8, else the
    charset guessed from the bytes (an older page in windows-1252). Bytes that do not map are replaced."""
    if b"\x00" in data[:8192]:
        raise DocumentError("binary content in a text page")
    if not charset:
        try:
            return clean_text(data.decode("utf-8-sig"))
        except UnicodeDecodeError:
            from trafilatura.utils import detect_encoding  # charset_normalizer underneath

            charset = next(iter(detect_encoding(data)), "utf-8")
    try:
        text = data.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        text = data.decode("utf-8", errors="replace")
    return clean_text(text)


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").removeprefix("www.")


def _title_from_url(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return _title_from_name(Path(last)) if last else (parts.hostname or url)
