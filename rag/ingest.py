"""Incremental ingestion: unchanged files skipped by hash, changed ones re-embedded, deleted ones removed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.chunking import chunk_document
from rag.errors import DocumentError, EmbeddingError
from rag.loaders import SUPPORTED_SUFFIXES, content_hash, load_document, source_id_for
from rag.url_sources import is_url_source

if TYPE_CHECKING:
    from rag.catalog import DocumentRecord
    from rag.config import ChunkingSettings
    from rag.index import Index
    from rag.types import Chunk, Document

log = logging.getLogger(__name__)

# (what is happening, done, total); the CLI draws a progress bar from it.
ProgressHook = Callable[[str, int, int], None]


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): unusable, or refused
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): left out on purpose
    chunks_embedded: int = 0
    # Chunks of documents whose embedding broke off: their stored vectors are kept for the next run to reuse.
    resumable: set[str] = field(default_factory=set, repr=False)

    def summary(self) -> str:
        skipped = f"{len(self.skipped)} skipped, " if self.skipped else ""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {skipped}{len(self.failed)} failed"
        )


@dataclass(frozen=True, slots=True)
class Discovery:
    files: list[Path]  # to ingest, each inside the corpus root (links resolved)
    folders: list[Path]  # scanned (resolved): documents from there whose file is gone are removed
    failed: list[tuple[str, str]]
    skipped: list[tuple[str, str]]


def _chunker_signature(index: Index, chunking: ChunkingSettings) -> str:
    window = f"{index.embedder.name}/{index.embedder.max_tokens}" if index.embedder else "none"
    return f"v1/{chunking.max_tokens}/{chunking.overlap_tokens}/{window}"


def discover(paths: Sequence[Path], root: Path, max_file_bytes: int | None = None) -> Discovery:
    """The files to ingest under `paths`. Every path must lie inside the corpus `root`, whose folder names a
    source's id: a file given from elsewhere could otherwise take the id of a corpus article. A link whose
    target leaves the corpus is skipped (it would index whatever it points at: a .env file, /etc/passwd), and
    so is a file over `max_file_bytes`."""
    found = Discovery([], [], [], [])
    real_root = root.resolve()
    for path in paths:
        if not path.exists():
            found.failed.append((str(path), "no such file or folder"))
        elif not _inside(path, real_root):
            found.failed.append((str(path), f"outside the corpus folder {root}; copy it there to index it"))
        elif path.is_dir():
            found.folders.append(path.resolve())
            for f in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in f.relative_to(path).parts)
                if not hidden and f.suffix.lower() in SUPPORTED_SUFFIXES and f.is_file():
                    _admit(f, real_root, max_file_bytes, found)
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            _admit(path, real_root, max_file_bytes, found)
        else:
            found.failed.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
    return found


def _inside(path: Path, real_root: Path) -> bool:
    """Whether `path` (its folder, and its target if it is a link) lies inside the resolved corpus folder."""
    return (path.parent.resolve() / path.name).is_relative_to(real_root) and path.resolve().is_relative_to(real_root)


def _admit(path: Path, real_root: Path, max_file_bytes: int | None, found: Discovery) -> None:
    if not path.resolve().is_relative_to(real_root):
        found.skipped.append((str(path), "a link to a file outside the corpus folder (not followed)"))
        return
    size = path.stat().st_size
    if max_file_bytes is not None and size > max_file_bytes:
        found.skipped.append(
            (str(path), f"{size / 1e6:.1f} MB, over the {max_file_bytes / 1e6:g} MB limit (RAGBOT_INGEST__MAX_FILE_MB)")
        )
        return
    found.files.append(path)


def ingest(
    index: Index,
    paths: Sequence[Path],
    chunking: ChunkingSettings,
    *,
    root: Path | None = None,
    max_file_bytes: int | None = None,
    rebuild: bool = False,
    progress: ProgressHook | None = None,
    then: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """Index `paths` (files or folders inside the corpus folder `root`; by default the first path given, or its
    folder). A source's id is its path under `root`, whatever folder the command named: one file, one source.
    `then` makes more changes in the same generation (the service restores URL sources from their copies).

    A shared catalog admits one writer at a time (IngestRunning for a second) and shows the changes to readers
    all at once, when the draft is complete; vectors no generation lists any more are dropped only then."""
    with index.catalog.exclusive():
        with index.catalog.draft():
            report = _ingest_draft(index, paths, chunking, root, max_file_bytes, rebuild, progress)
            if then is not None:
                then(report)
        index.catalog.sweep_generations()
        _drop_orphans(index, keep=report.resumable)
    index.lexical()  # build (and cache) BM25 now rather than on the first question
    return report


def _ingest_draft(
    index: Index,
    paths: Sequence[Path],
    chunking: ChunkingSettings,
    root: Path | None,
    max_file_bytes: int | None,
    rebuild: bool,
    progress: ProgressHook | None,
) -> IngestReport:
    report = IngestReport()
    if rebuild:
        index.catalog.clear()
        if index.store is not None and _reset_on_rebuild(index):
            index.store.reset()
    elif index.embedder is not None:
        index.check_embedder()
    if root is None and paths:
        root = paths[0] if paths[0].is_dir() else paths[0].parent
    root = root or Path.cwd()
    found = discover(paths, root, max_file_bytes)
    report.failed, report.skipped = found.failed, found.skipped
    signature = _chunker_signature(index, chunking)
    rechunk = index.catalog.get_meta("chunker") != signature
    known = index.catalog.document_hashes()
    seen: dict[str, str] = {}
    for done, path in enumerate(found.files):
        if progress:
            progress(f"indexing {path.name}", done, len(found.files))
        _ingest_file(index, path, root, chunking, known, rechunk, seen, report, progress)
    if progress:
        progress("indexing", len(found.files), len(found.files))
    _remove_stale(index, found.folders, root, seen, report)
    index.catalog.set_meta(chunker=signature)
    report.chunks_embedded += _embed_missing(index, progress)
    return report


def _ingest_file(
    index: Index,
    path: Path,
    root: Path,
    chunking: ChunkingSettings,
    known: dict[str, str],
    rechunk: bool,
    seen: dict[str, str],
    report: IngestReport,
    progress: ProgressHook | None = None,
) -> None:
    try:
        data_hash = content_hash(path.read_bytes())
        doc = load_document(path, root)
        if doc.source_id in seen:
            raise DocumentError(f"same source id as {seen[doc.source_id]} (rename one of them)")
        seen[doc.source_id] = str(path)
        if known.get(doc.source_id) == data_hash and not rechunk:
            report.unchanged.append(str(path))
            return
        index_document(index, doc, chunking, report, progress)
    except OSError as exc:
        report.failed.append((str(path), f"cannot read file: {exc.strerror or exc}"))
    except (DocumentError, EmbeddingError) as exc:
        report.failed.append((str(path), str(exc)))
    else:
        (report.updated if doc.source_id in known else report.added).append(str(path))


@contextmanager
def one_change(index: Index) -> Iterator[None]:
    """A change made outside `ingest` (a web page added, refreshed or removed), under ingest's rules: one writer
    at a time, readers see it whole when the block ends, and vectors nothing lists any more are dropped after."""
    with index.catalog.exclusive():
        with index.catalog.draft():
            yield
        index.catalog.sweep_generations()
        if index.catalog.shared:  # in one process the replaced vectors were dropped with the change itself
            _drop_orphans(index, keep=set())


def index_document(
    index: Index,
    doc: Document,
    chunking: ChunkingSettings,
    report: IngestReport | None = None,
    progress: ProgressHook | None = None,
) -> list[Chunk]:
    """Make `doc` (new or a new version) live: its chunks embedded first, then swapped in by the catalog in one
    transaction. An embedding failure raises before the swap: the previous version stays what is searched."""
    report = report if report is not None else IngestReport()
    chunks = _chunks(index, doc, chunking)
    old_ids = index.catalog.chunk_ids_of(doc.source_id)
    report.resumable.update(c.chunk_id for c in chunks)
    report.chunks_embedded += _embed_new(index, chunks, progress)
    report.resumable.difference_update(c.chunk_id for c in chunks)
    index.catalog.replace_document(doc, chunks)  # the moment the new version becomes visible
    _drop_vectors(index, old_ids - {c.chunk_id for c in chunks})
    return chunks


def remove_from_index(index: Index, source_id: str) -> int:
    """Take a source out of the index (catalog, then its vectors); the number of chunks it had."""
    ids = index.catalog.chunk_ids_of(source_id)
    index.catalog.remove_document(source_id)
    _drop_vectors(index, ids)
    return len(ids)


def chunker_signature(index: Index, chunking: ChunkingSettings) -> str:
    """What the chunks were made with; a change means every document must be chunked again."""
    return _chunker_signature(index, chunking)


def _chunks(index: Index, doc: Document, chunking: ChunkingSettings) -> list[Chunk]:
    """The document's chunks, sized for the embedding model's window when there is one; no id twice."""
    embedder = index.embedder
    return _unique(
        chunk_document(
            doc,
            max_tokens=chunking.max_tokens,
            overlap_tokens=chunking.overlap_tokens,
            window_tokens=embedder.count_tokens if embedder else None,
            window=embedder.max_tokens if embedder else 0,
        )
    )


def _unique(chunks: Iterable[Chunk]) -> list[Chunk]:
    """A passage repeated verbatim under the same heading is one chunk (its id is its content)."""
    return list({c.chunk_id: c for c in chunks}.values())


# Vectors are stored batch by batch: an interrupted ingest of a long document keeps what was embedded (keyed by
# content, found again by the next run), while the catalog still switches the document over in one transaction.
EMBED_BATCH = 128


def _embed_new(index: Index, chunks: Sequence[Chunk], progress: ProgressHook | None = None) -> int:
    if index.store is None or index.embedder is None or not chunks:
        return 0
    present = index.store.existing(c.chunk_id for c in chunks)
    todo = [c for c in chunks if c.chunk_id not in present]
    for start in range(0, len(todo), EMBED_BATCH):
        if progress and len(todo) > EMBED_BATCH:
            progress("embedding", start, len(todo))
        batch = todo[start : start + EMBED_BATCH]
        vectors = index.embedder.embed([c.embedding_text for c in batch])
        index.store.record_embedder(index.embedder.name, int(vectors.shape[1]))
        index.store.add(batch, vectors)
    return len(todo)


def _remove_stale(
    index: Index, folders: Sequence[Path], root: Path, seen: dict[str, str], report: IngestReport
) -> None:
    """Documents from a scanned folder whose file is gone, was skipped this time, or was indexed under an id
    it no longer has (an older ragbot named sources after the folder the command was given)."""
    if not folders:
        return
    skipped = {Path(p).absolute() for p, _ in report.skipped}
    for record in index.catalog.documents():
        if record.source.id in seen or is_url_source(record.source.id):  # pages are refreshed, not scanned
            continue
        path = _scanned_place(record, folders, root)
        if path is None:
            continue
        stale_id = source_id_for(path, root) != record.source.id
        kept = path.exists() and path.suffix.lower() in SUPPORTED_SUFFIXES and path.absolute() not in skipped
        if kept and not stale_id:
            continue  # still there but failed to load this time: keep the last good version
        ids = index.catalog.chunk_ids_of(record.source.id)
        index.catalog.remove_document(record.source.id)
        _drop_vectors(index, ids)
        report.removed.append(str(path))


def _scanned_place(record: DocumentRecord, folders: Sequence[Path], root: Path) -> Path | None:
    """The record's file in the scanned folders: where it was indexed from, or, when the corpus folder has moved
    since (an unchanged file keeps the place it was first indexed from), where its id puts it under `root`.
    None when neither is in a scanned folder. A link is judged by its own place, not its target's."""
    stored = Path(record.path)
    for path in (stored, root / f"{record.source.id}{stored.suffix}"):
        if any((path.parent.resolve() / path.name).is_relative_to(f) for f in folders):
            return path
    return None


def _reset_on_rebuild(index: Index) -> bool:
    """Whether a rebuild empties the vector store. A shared store is being searched by other processes: it is
    kept unless its vectors come from another embedding model (they could not be used anyway). Vectors are keyed
    by content, so the rebuilt catalog finds its passages' vectors there, and the sweep drops the rest."""
    if not index.catalog.shared or index.store is None or index.embedder is None:
        return True
    recorded = index.store.recorded_embedder()
    return recorded is not None and recorded[0] != index.embedder.name


def _drop_vectors(index: Index, ids: set[str]) -> None:
    """Vectors of chunks that are no longer live. A shared catalog's other processes may still answer from the
    previous generation: there, the sweep after publishing drops them once no kept generation lists them."""
    if index.store is not None and not index.catalog.shared and ids:
        index.store.delete(ids)


def _drop_orphans(index: Index, keep: set[str]) -> None:
    """Drop vectors no kept generation uses (left by a crash, or by replaced documents), except those `keep`
    names (a document whose embedding broke off this time resumes from them). Runs under the writer lock:
    another writer's fresh vectors, not yet listed in its draft, would look like orphans."""
    if index.store is None or index.embedder is None:
        return
    orphans = index.store.all_ids() - index.catalog.referenced_chunk_ids() - keep
    if orphans:
        log.info("dropping %d vectors no generation uses", len(orphans))
        index.store.delete(orphans)


def _embed_missing(index: Index, progress: ProgressHook | None) -> int:
    """Embed live chunks that lack vectors (ingested in lexical mode, or a crash before embedding)."""
    if index.store is None or index.embedder is None:
        return 0
    live = index.catalog.all_chunk_ids()
    missing = sorted(live - index.store.existing(live))
    if not missing:
        return 0
    chunks = index.catalog.get_chunks(missing)
    todo = [chunks[i] for i in missing if i in chunks]
    step = 256
    for start in range(0, len(todo), step):
        if progress:
            progress("embedding", start, len(todo))
        _embed_new(index, todo[start : start + step])
    if progress:
        progress("embedding", len(todo), len(todo))
    return len(todo)
