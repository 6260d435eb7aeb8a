"""Test data builders (files, not fakes of our code)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from rag.config import Settings
from rag.evaluation import EvalReport
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


def run_ragbot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `ragbot ARGS` as a user would, with only the given RAGBOT_* variables."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")} | env
    return subprocess.run([ragbot_command(), *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=300)


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
