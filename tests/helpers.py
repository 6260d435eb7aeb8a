"""Test data builders (files, not fakes of our code)."""

from __future__ import annotations

import asyncio
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock
from warm_ragbot import warm_ragbot

from rag.config import Settings
from rag.embeddings import Embedder
from rag.evaluation import EvalReport
from rag.index import open_index
from rag.ingest import ingest
from rag.sentence_rank import SentenceRanker
from rag.types import Chunk, Citation, PrimarySource

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
ARTICLE = CORPUS / "will-chinas-new-ai-model-deepseek-threaten-us-dominance.md"
ARTICLE_ID = ARTICLE.stem
# CI provides everything (the model, PostgreSQL): there a missing piece fails the run instead of skipping tests.
IN_CI = bool(os.environ.get("CI"))
# The `make_settings` fixture: Settings on the test's temporary folders, with these overrides.
SettingsFactory = Callable[..., Settings]
# One onnxruntime thread per model in the tests: the xdist workers, mypy and the eval gate already keep every core
# busy, and a second intra-op thread only adds contention (measured: 15-25% more CPU for the same vectors).
EMBED_THREADS = 1


@dataclass(frozen=True)
class DevSetRun:
    """The `dev_set_run` fixture: eval/dev.yaml through the real service over the real corpus."""

    report: EvalReport  # run_eval(k=5) with the scripted model
    chunks: list[Chunk]  # every chunk of the index it ran on


def make_pdf(pages: list[str], title: str = "") -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (each string one page)."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    info_id = font_id + 1
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 11 Tf 40 740 Td ({escaped}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R"
            f" /Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({title}) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        info_id,
        xref,
    )
    return bytes(out)


def ragbot_command() -> str:
    """The installed `ragbot` console script beside this interpreter (pip install -e . puts it there)."""
    return str(Path(sys.executable).with_name("ragbot"))


Argv = Sequence[str | bytes]  # bytes: an argument that is not valid UTF-8, as a shell can pass one


def run_ragbot(args: Argv, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `ragbot ARGS` as a user would: a process of its own, with only the given RAGBOT_* variables, stdin
    empty and its output captured (forked from a warm process that has done the imports: tests/warm_ragbot.py)."""
    done = _run_bytes(args, env, cwd)
    return subprocess.CompletedProcess(done.args, done.returncode, _text(done.stdout), _text(done.stderr))


async def arun_ragbot(args: Argv, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """`run_ragbot` while this test's event loop goes on serving (a fake model, a web site); the output as bytes."""
    return await asyncio.to_thread(_run_bytes, args, env, cwd)


def _run_bytes(args: Argv, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    # The model on one thread unless the test says otherwise, as in-process tests run it (the workers share the
    # cores); the warm process has built that session already.
    threads = {"RAGBOT_EMBEDDING__THREADS": str(EMBED_THREADS)}
    full = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")} | threads | env
    return warm_ragbot().run([ragbot_command(), *args], full, cwd, timeout=300)


def _text(output: bytes) -> str:
    """What `subprocess.run(text=True)` makes of a command's output."""
    return output.decode().replace("\r\n", "\n").replace("\r", "\n")


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder `build` fills, built once for the whole run: the first pytest-xdist worker to get here builds
    it beside the workers' own temporary folders, the others wait on the lock and reuse it (without xdist this
    is simply the session's temporary folder)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, one level above each worker's
    folder, done = shared / f"shared-{name}", shared / f"shared-{name}.done"
    with FileLock(str(shared / f"shared-{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed half-way left it incomplete
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


FIRST_INGEST = "first-ingest.pickle"  # beside the data folder `build_index` fills: the IngestReport it got


def build_index(root: Path, source: Path, model_dir: Path, embedder: Embedder, *, start: Path | None = None) -> Path:
    """The index `make_settings()` would build over `source` (a folder, or one file), in root/data, and the
    report of that first ingest in root/FIRST_INGEST: for `built_once`, so that tests copy it instead of
    embedding the same corpus again. `start`: a data folder built before (of some of these files), copied
    first: its files are found unchanged and only the others are embedded."""
    corpus = root / "corpus"
    if source.is_dir():
        shutil.copytree(source, corpus)
    else:
        corpus.mkdir()
        shutil.copy(source, corpus / source.name)
    if start is not None:
        copy_index(start, root / "data")
    embedding = {"model_dir": model_dir, "threads": EMBED_THREADS}
    settings = Settings(_env_file=None, data_dir=root / "data", corpus_dir=corpus, embedding=embedding)
    index = open_index(settings, embedder=embedder)
    try:
        report = ingest(index, [corpus], settings.chunking)
        # The sentence vectors a search embeds on first sight of a passage, kept in the data folder: each copy
        # starts with them, as an index that has answered before does (they cost more than the ingest itself).
        SentenceRanker(index).prepare(list(index.catalog.iter_chunks()))
    finally:
        index.close()
    assert not report.failed, report.failed
    (root / FIRST_INGEST).write_bytes(pickle.dumps(report))  # for the tests of a first ingest
    return root / "data"


def copy_index(built: Path, target: Path) -> Path:
    """A test's own copy of a data folder built once. The kept sentence vectors are linked, not copied: the app
    never writes such a file in place (it writes a new one and renames it over), so no test sees another's."""

    def copy(src: str, dst: str) -> object:
        if Path(src).relative_to(built).parts[0] == "sentences":
            os.link(src, dst)
            return dst
        return shutil.copy2(src, dst)

    shutil.copytree(built, target, copy_function=copy)
    return target


# A citation of a curated brief with its primary sources (one unconfirmed), as answers and FAQ entries carry it.
BRIEF_CITATION = Citation(
    1,
    "briefs/nvidia-sell-off-january-2025#3",
    "The Nvidia sell-off of January 27, 2025",
    "",
    "2026-11-28",
    "What happened",
    "Nvidia closed down about 17%.",
    "ragbot curators",
    kind="brief",
    primary_sources=(
        PrimarySource("CNBC, Jan 27, 2025", "https://www.cnbc.com/nvidia", confirmed=False),
        PrimarySource("DeepSeek-V3 Technical Report", "https://arxiv.org/abs/2412.19437"),
    ),
)
