"""Adding, refreshing and removing web pages as sources. The index changes only once a page has been fetched,
read and embedded; any failure before that leaves it exactly as it was and becomes one line for the curator."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from rag.errors import DocumentError, EmbeddingError, UrlSourceError
from rag.ingest import index_document, one_change, remove_from_index
from rag.loaders import content_hash, load_web_document
from rag.url_sources import UrlSource, is_url_source, source_id_for_url
from rag.web import Fetched, FetchPolicy, check_url, fetch, new_client

if TYPE_CHECKING:
    import httpx

    from rag.config import ChunkingSettings
    from rag.index import Index
    from rag.ingest import IngestReport
    from rag.url_sources import UrlRegistry

log = logging.getLogger(__name__)

Outcome = Literal["added", "updated", "unchanged", "removed", "failed"]


@dataclass(frozen=True, slots=True)
class SourceChange:
    """What happened to one source: for the CLI's line, the bot's reply, a review card's note."""

    target: str  # the URL (or source id) as the curator named it
    outcome: Outcome
    detail: str  # one line: why it failed, or what was indexed
    title: str = ""
    source_id: str = ""
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"

    def line(self) -> str:
        return f"{self.target}: {self.outcome} — {self.detail}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class WebSources:
    """`write_lock` is the one every index writer of this process holds (the service's), so a page added while a
    reindex runs waits for it instead of interleaving with it."""

    def __init__(
        self,
        *,
        index: Index,
        registry: UrlRegistry,
        policy: FetchPolicy,
        chunking: ChunkingSettings,
        write_lock: threading.Lock,
    ) -> None:
        self.index = index
        self.registry = registry
        self.policy = policy
        self.chunking = chunking
        self._write_lock = write_lock

    async def add(self, url: str) -> SourceChange:
        """Fetch `url` and index it (again, if it is already a source); never raises for a bad page."""
        url = url.strip()
        try:
            check_url(url)
            fetched = await fetch(url, self.policy)
            if not isinstance(fetched, Fetched):
                raise UrlSourceError("the server answered 304 Not Modified to a plain request")
            return await asyncio.to_thread(self._store_sync, fetched, await self._known(url))
        except (UrlSourceError, DocumentError, EmbeddingError) as exc:
            log.info("URL source %s refused: %s", url, exc)
            return SourceChange(url, "failed", f"{exc}; nothing was changed")
        except OSError as exc:  # the data folder (the registry's files)
            log.warning("URL source %s: cannot use the data folder: %s", url, exc)
            return SourceChange(url, "failed", f"cannot use the data folder ({exc.strerror or exc})")

    async def _known(self, url: str) -> UrlSource | None:
        return await asyncio.to_thread(self.registry.get, url)

    async def refresh(self) -> list[SourceChange]:
        """Ask each page's server whether it changed (ETag / Last-Modified); re-index those that did."""
        sources = await asyncio.to_thread(self.registry.all)
        async with new_client(self.policy) as client:
            return [await self._refresh_one(source, client) for source in sources]

    async def _refresh_one(self, source: UrlSource, client: httpx.AsyncClient) -> SourceChange:
        try:
            fetched = await fetch(
                source.url, self.policy, etag=source.etag, last_modified=source.last_modified, client=client
            )
            if not isinstance(fetched, Fetched):  # 304: the copy we hold is current
                await asyncio.to_thread(self.registry.save, replace(source, fetched_at=_now()))
                return SourceChange(source.url, "unchanged", "not modified (304)", source_id=source.source_id)
            return await asyncio.to_thread(self._store_sync, fetched, source)
        except (UrlSourceError, DocumentError, EmbeddingError) as exc:
            log.info("refreshing %s failed: %s", source.url, exc)
            return SourceChange(source.url, "failed", f"{exc}; the indexed copy is kept", source_id=source.source_id)
        except OSError as exc:
            log.warning("refreshing %s: cannot use the data folder: %s", source.url, exc)
            detail = f"cannot use the data folder ({exc.strerror or exc}); the indexed copy is kept"
            return SourceChange(source.url, "failed", detail, source_id=source.source_id)

    def _store_sync(self, fetched: Fetched, known: UrlSource | None) -> SourceChange:
        """Read the page, index it, then record it; blocking (embedding)."""
        digest = content_hash(fetched.body)
        source = UrlSource(
            url=fetched.url,
            source_id=source_id_for_url(fetched.url),
            kind=fetched.kind,
            charset=fetched.charset,
            content_hash=digest,
            fetched_at=_now(),
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            final_url=fetched.final_url,
        )
        indexed = self.index.catalog.document_hashes().get(source.source_id)
        if known is not None and indexed == digest:
            self.registry.save(source)  # new validators (ETag) for the next refresh; same body
            return SourceChange(fetched.url, "unchanged", "the page has not changed", source_id=source.source_id)
        doc = load_web_document(
            fetched.body, kind=fetched.kind, url=fetched.url, source_id=source.source_id, charset=fetched.charset
        )
        with self._write_lock, one_change(self.index):
            chunks = index_document(self.index, doc, self.chunking)
            try:
                self.registry.save(source, fetched.body)
            except OSError as exc:  # not recorded: take it out again rather than keep a page nobody can refresh
                if known is None:
                    remove_from_index(self.index, source.source_id)
                raise UrlSourceError(f"cannot store the page in the data folder ({exc.strerror or exc})") from exc
        outcome: Outcome = "added" if indexed is None else "updated"
        detail = f"“{doc.title}”, {len(chunks)} passage{'s' if len(chunks) != 1 else ''}"
        return SourceChange(fetched.url, outcome, detail, doc.title, source.source_id, len(chunks))

    async def remove(self, target: str) -> SourceChange:
        """Remove a URL source, named by its address or its id. Corpus files are removed by deleting the file."""
        return await asyncio.to_thread(self._remove_sync, target.strip())

    def _remove_sync(self, target: str) -> SourceChange:
        source = self.registry.get(target) or next(
            (s for s in self.registry.all() if target in (s.source_id, s.final_url)), None
        )
        # A page indexed but not recorded here (added by another process sharing the index) is removed too.
        url, source_id = (source.url, source.source_id) if source else self._indexed_page(target)
        if not source_id:
            if target in self.index.catalog.document_hashes():
                return SourceChange(
                    target, "failed", "this is a file of the curated corpus: delete the file, then reindex"
                )
            return SourceChange(target, "failed", "no URL source has this address or id (see the list of sources)")
        with self._write_lock, one_change(self.index):
            chunks = remove_from_index(self.index, source_id)
            self.registry.remove(url)
        return SourceChange(url, "removed", "it is no longer cited", source_id=source_id, chunks=chunks)

    def _indexed_page(self, target: str) -> tuple[str, str]:
        """(url, source id) of the indexed page named by `target`, or ("", "")."""
        for record in self.index.catalog.documents():
            if is_url_source(record.source.id) and target in (record.source.id, record.source.url):
                return record.source.url, record.source.id
        return "", ""

    def restore_sync(self, report: IngestReport, *, rechunk: bool) -> None:
        """Within a corpus ingest (the caller holds the write lock and the draft): index again, from their stored
        copies, the pages the index lacks (a rebuild cleared them) or that were chunked differently. No download."""
        indexed = self.index.catalog.document_hashes()
        for source in self.registry.all():
            if indexed.get(source.source_id) == source.content_hash and not rechunk:
                continue
            try:
                doc = load_web_document(
                    self.registry.body(source),
                    kind=source.kind,
                    url=source.url,
                    source_id=source.source_id,
                    charset=source.charset,
                )
                index_document(self.index, doc, self.chunking, report)
            except OSError as exc:
                report.failed.append((source.url, f"cannot read the stored copy: {exc.strerror or exc}"))
            except (DocumentError, EmbeddingError) as exc:
                report.failed.append((source.url, str(exc)))
            else:
                (report.updated if source.source_id in indexed else report.added).append(source.url)
