"""Incremental ingestion: unchanged files skipped by hash, changed ones re-embedded, deleted ones removed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.chunking import chunk_document
from rag.errors import DocumentError, EmbeddingError
from rag.loaders import SUPPORTED_SUFFIXES, content_hash, load_document

if TYPE_CHECKING:
    from rag.config import ChunkingSettings
    from rag.index import Index
    from rag.types import Chunk

log = logging.getLogger(__name__)

# (what is happening, done, total); the CLI draws a progress bar from it.
ProgressHook = Callable[[str, int, int], None]


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    chunks_embedded: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.failed)} failed"
        )


def _chunker_signature(index: Index, chunking: ChunkingSettings) -> str:
    window = f"{index.embedder.name}/{index.embedder.max_tokens}" if index.embedder else "none"
    return f"v1/{chunking.max_tokens}/{chunking.overlap_tokens}/{window}"


def discover(paths: Sequence[Path]) -> tuple[list[tuple[Path, Path]], list[Path], list[tuple[str, str]]]:
    """Files to ingest as (file, root for its id), the folders scanned, and unusable paths."""
    files: list[tuple[Path, Path]] = []
    folders: list[Path] = []
    problems: list[tuple[str, str]] = []
    for path in paths:
        if path.is_dir():
            folders.append(path.resolve())
            for f in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in f.relative_to(path).parts)
                if f.is_file() and not hidden and f.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append((f, path))
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append((path, path.parent))
            else:
                problems.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
        else:
            problems.append((str(path), "no such file or folder"))
    return files, folders, problems


def ingest(
    index: Index,
    paths: Sequence[Path],
    chunking: ChunkingSettings,
    *,
    rebuild: bool = False,
    progress: ProgressHook | None = None,
) -> IngestReport:
    report = IngestReport()
    if rebuild:
        index.catalog.clear()
        if index.store is not None:
            index.store.reset()
    elif index.embedder is not None:
        index.check_embedder()
    files, folders, report.failed = discover(paths)
    signature = _chunker_signature(index, chunking)
    rechunk = index.catalog.get_meta("chunker") != signature
    known = index.catalog.document_hashes()
    seen: dict[str, str] = {}
    for done, (path, root) in enumerate(files):
        if progress:
            progress(f"indexing {path.name}", done, len(files))
        _ingest_file(index, path, root, chunking, known, rechunk, seen, report)
    if progress:
        progress("indexing", len(files), len(files))
    _remove_deleted(index, folders, seen, report)
    index.catalog.set_meta(chunker=signature)
    report.chunks_embedded += _reconcile_vectors(index, progress)
    index.lexical()  # build (and cache) BM25 now rather than on the first question
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
        chunks = _unique(
            chunk_document(
                doc,
                max_tokens=chunking.max_tokens,
                overlap_tokens=chunking.overlap_tokens,
                window_tokens=index.embedder.count_tokens if index.embedder else None,
                window=index.embedder.max_tokens if index.embedder else 0,
            )
        )
        old_ids = index.catalog.chunk_ids_of(doc.source_id)
        report.chunks_embedded += _embed_new(index, chunks)
        index.catalog.replace_document(doc, chunks)  # the moment the new version becomes visible
        if index.store is not None:
            index.store.delete(old_ids - {c.chunk_id for c in chunks})
    except OSError as exc:
        report.failed.append((str(path), f"cannot read file: {exc.strerror or exc}"))
    except (DocumentError, EmbeddingError) as exc:
        report.failed.append((str(path), str(exc)))
    else:
        (report.updated if doc.source_id in known else report.added).append(str(path))


def _unique(chunks: Iterable[Chunk]) -> list[Chunk]:
    """A passage repeated verbatim under the same heading is one chunk (its id is its content)."""
    return list({c.chunk_id: c for c in chunks}.values())


def _embed_new(index: Index, chunks: Sequence[Chunk]) -> int:
    if index.store is None or index.embedder is None or not chunks:
        return 0
    present = index.store.existing(c.chunk_id for c in chunks)
    todo = [c for c in chunks if c.chunk_id not in present]
    if todo:
        vectors = index.embedder.embed([c.embedding_text for c in todo])
        index.store.record_embedder(index.embedder.name, int(vectors.shape[1]))
        index.store.add(todo, vectors)
    return len(todo)


def _remove_deleted(index: Index, folders: Sequence[Path], seen: dict[str, str], report: IngestReport) -> None:
    """Documents whose file was in a scanned folder and is gone now."""
    if not folders:
        return
    for record in index.catalog.documents():
        path = Path(record.path).resolve()
        if record.source.id in seen or not any(path.is_relative_to(f) for f in folders):
            continue
        if path.exists() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            continue  # still there but failed to load this time: keep the last good version
        ids = index.catalog.chunk_ids_of(record.source.id)
        index.catalog.remove_document(record.source.id)
        if index.store is not None:
            index.store.delete(ids)
        report.removed.append(record.path)


def _reconcile_vectors(index: Index, progress: ProgressHook | None) -> int:
    """Embed live chunks that lack vectors and drop vectors no live chunk uses (left by a crash)."""
    if index.store is None or index.embedder is None:
        return 0
    live = index.catalog.all_chunk_ids()
    orphans = index.store.all_ids() - live
    if orphans:
        index.store.delete(orphans)
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
