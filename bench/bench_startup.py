"""Start-up benchmark: wall time of `ragbot --help`, `ragbot search` and an extractive `ragbot ask` on an
index that is already built, this checkout side by side with an earlier revision, in the same run.

The earlier revision is checked out with `git worktree add` into a temporary folder; both sides run with the
same interpreter and the same installed dependencies, each importing its own code through PYTHONPATH (which
comes before the editable install's finder). Runs alternate between the two sides so that a busy machine
slows both alike. Each side indexes the same corpus into its own data folder first (not timed).

Run: python bench/bench_startup.py [--baseline REV] [--runs 5]
     (RAGBOT_EMBEDDING__MODEL_DIR must point at the model, or the model must be in chroma's cache folder)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The last commit before the start-up work (lazy imports, the lazily opened vector store).
DEFAULT_BASELINE = "aa5e691"
COMMANDS: list[tuple[str, list[str]]] = [
    ("ragbot --help", ["--help"]),
    ("ragbot search", ["search", "H800 export controls"]),
    ("ragbot ask (extractive)", ["ask", "Who founded DeepSeek?"]),
]


def _env(code: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_") or k == "RAGBOT_EMBEDDING__MODEL_DIR"}
    return env | {
        "PYTHONPATH": str(code),
        "RAGBOT_DATA_DIR": str(data_dir),
        "RAGBOT_CORPUS_DIR": str(REPO / "corpus"),
        "RAGBOT_LLM__PROVIDER": "none",
    }


def _run(code: Path, data_dir: Path, args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ragbot", *args], env=_env(code, data_dir), cwd=cwd, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"`ragbot {' '.join(args)}` failed with {code}:\n{result.stderr}")
    return elapsed


def _which_code(code: Path, data_dir: Path, cwd: Path) -> str:
    """Where the `ragbot` package was imported from: proof that each side runs its own code."""
    env = _env(code, data_dir)
    probe = "import ragbot.cli, pathlib; print(pathlib.Path(ragbot.cli.__file__).resolve().parents[1])"
    return subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True, text=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="the revision to compare with")
    parser.add_argument("--runs", type=int, default=5, help="runs per command and side (the median is shown)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragbot-bench-startup-") as tmp:
        root = Path(tmp)
        old = root / "baseline"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(old), options.baseline], check=True)
        try:
            _compare(root, old, options.baseline, options.runs)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], check=False)


def _compare(root: Path, old: Path, baseline: str, runs: int) -> None:
    sides = {"baseline": (old, root / "data-baseline"), "current": (REPO, root / "data-current")}
    work = root / "elsewhere"  # neither checkout: no ./corpus or ./data to stumble on
    work.mkdir()
    for name, (code, data_dir) in sides.items():
        print(f"{name}: code from {_which_code(code, data_dir, work)}; indexing…", flush=True)
        _run(code, data_dir, ["ingest"], work)
    print(f"\nmedian wall time of {runs} runs, baseline = {baseline}, {os.cpu_count()} CPUs\n")
    print("| command | baseline s | current s | current / baseline |\n|---|---:|---:|---:|")
    for label, args in COMMANDS:
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(runs):
            for name, (code, data_dir) in sides.items():  # alternate: load on the machine hits both sides
                times[name].append(_run(code, data_dir, args, work))
        before, after = statistics.median(times["baseline"]), statistics.median(times["current"])
        print(f"| `{label}` | {before:.2f} | {after:.2f} | {after / before:.2f} |", flush=True)


if __name__ == "__main__":
    main()
