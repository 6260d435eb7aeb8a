"""Which web pages curators added as sources, and the copy fetched of each.

Behind the small `UrlRegistry` protocol so that it can move into the shared database later (as the index catalog
does when several processes share one): today `FolderUrlRegistry` keeps one JSON file and one body file per URL
in the data folder. One file per URL means two processes adding different pages never rewrite each other's
entry; each file is replaced atomically. The raw body is kept (not only the extracted text) so that a rebuild of
the index, or a new chunker, reads the pages again without downloading them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

URL_ID_PREFIX = "url:"


def source_id_for_url(url: str) -> str:
    """A stable id for a page: its host and a digest of the whole address (`url:example.org/3f2a9c1b04d2`)."""
    host = (urlsplit(url).hostname or "page").removeprefix("www.")
    return f"{URL_ID_PREFIX}{host}/{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def is_url_source(source_id: str) -> bool:
    return source_id.startswith(URL_ID_PREFIX)


@dataclass(frozen=True, slots=True)
class UrlSource:
    url: str  # as the curator gave it; what citations link to
    source_id: str
    kind: str  # html, pdf or text
    charset: str
    content_hash: str  # sha256 of the body as downloaded
    fetched_at: str  # ISO 8601, UTC: when the body was last downloaded or confirmed current
    etag: str = ""
    last_modified: str = ""
    final_url: str = ""  # after redirects


class UrlRegistry(Protocol):
    def all(self) -> list[UrlSource]: ...

    def get(self, url: str) -> UrlSource | None: ...

    def body(self, source: UrlSource) -> bytes: ...

    def save(self, source: UrlSource, body: bytes | None = None) -> None:
        """Record `source`; `body` None keeps the stored body (a refresh that found the page unchanged)."""

    def remove(self, url: str) -> None: ...


class FolderUrlRegistry:
    """`<folder>/<digest>.json` (the record) and `<digest>-<content hash>.body`; blocking file work."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _key(self, url: str) -> str:
        return hashlib.sha256(url.encode()).hexdigest()[:24]

    def _record_path(self, url: str) -> Path:
        return self.folder / f"{self._key(url)}.json"

    def _body_path(self, source: UrlSource) -> Path:
        return self.folder / f"{self._key(source.url)}-{source.content_hash[:16]}.body"

    def all(self) -> list[UrlSource]:
        if not self.folder.is_dir():
            return []
        found = [self._read(path) for path in sorted(self.folder.glob("*.json"))]
        return sorted((s for s in found if s is not None), key=lambda s: s.url)

    def get(self, url: str) -> UrlSource | None:
        path = self._record_path(url)
        return self._read(path) if path.exists() else None

    def body(self, source: UrlSource) -> bytes:
        return self._body_path(source).read_bytes()

    def save(self, source: UrlSource, body: bytes | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        previous = self.get(source.url)
        if body is not None:  # the body first: a record never names a body that is not there
            _write_atomic(self._body_path(source), body)
        record = json.dumps(dataclasses.asdict(source), ensure_ascii=False, indent=1).encode()
        _write_atomic(self._record_path(source.url), record)
        if previous is not None and previous.content_hash != source.content_hash:
            self._body_path(previous).unlink(missing_ok=True)

    def remove(self, url: str) -> None:
        source = self.get(url)
        self._record_path(url).unlink(missing_ok=True)
        if source is not None:
            self._body_path(source).unlink(missing_ok=True)

    def _read(self, path: Path) -> UrlSource | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return UrlSource(**raw)
        except (OSError, ValueError, TypeError) as exc:  # a damaged record is reported, the others still load
            log.warning("cannot read the URL source record %s: %s", path, exc)
            return None


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
