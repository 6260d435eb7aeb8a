"""Tests pass where the app works: they find the embedding model where the app looks (chroma's cache folder
in the user's home), skip what needs it with one reason when no model is anywhere, and fail instead under CI.

Each case runs pytest in a subprocess on a copy of the test configuration that has nothing beside it (so the
models CI ships in ../shared are out of reach), with HOME pointing at a folder of the test's making."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

TINY_TEST = """
def test_needs_the_model(embedder):
    assert embedder.embed(["Who founded DeepSeek?"]).shape == (1, 384)


def test_needs_nothing():
    assert 1 + 1 == 2
"""


def _project(root: Path) -> Path:
    repo = root / "repo"
    (repo / "tests").mkdir(parents=True)
    for name in ("conftest.py", "helpers.py", "db_fixtures.py", "warm_ragbot.py"):
        shutil.copy(REPO / "tests" / name, repo / "tests" / name)
    shutil.copy(REPO / "pyproject.toml", repo / "pyproject.toml")  # the same pytest settings
    (repo / "tests" / "test_tiny.py").write_text(TINY_TEST)
    return repo


def _pytest(root: Path, home: Path, *, ci: bool, **variables: str) -> subprocess.CompletedProcess[str]:
    """pytest as a newcomer runs it: no RAGBOT_* variable but these, CI set or not."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGBOT_", "PYTEST_")) and k != "CI"}
    env |= variables | {"HOME": str(home)}
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/test_tiny.py"]
    return subprocess.run(command, cwd=_project(root), env=env, capture_output=True, text=True, timeout=300)


def test_the_model_in_chromas_cache_folder_is_found(tmp_path: Path, model_dir: Path) -> None:
    home = tmp_path / "home"
    cache = home / ".cache" / "chroma" / "onnx_models" / "all-MiniLM-L6-v2" / "onnx"
    cache.parent.mkdir(parents=True)
    cache.symlink_to(model_dir, target_is_directory=True)
    result = _pytest(tmp_path, home, ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout and "skipped" not in result.stdout


def test_without_a_model_what_needs_it_is_skipped_with_one_reason(tmp_path: Path) -> None:
    result = _pytest(tmp_path, tmp_path / "home", ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    [reason] = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert "no embedding model: run `ragbot ingest` once online" in reason
    assert "RAGBOT_EMBEDDING__MODEL_DIR" in reason


def test_without_a_model_ci_fails(tmp_path: Path) -> None:
    result = _pytest(tmp_path, tmp_path / "home", ci=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 error" in result.stdout
    assert "CI must run every test: no embedding model" in result.stdout


def test_a_configured_folder_without_the_model_stops_the_run(tmp_path: Path) -> None:
    """Someone who set the variable means that folder: silently skipping would hide the typo."""
    result = _pytest(tmp_path, tmp_path / "home", ci=False, RAGBOT_EMBEDDING__MODEL_DIR=str(tmp_path / "typo"))
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "RAGBOT_EMBEDDING__MODEL_DIR is set but unusable" in result.stderr and "lacks model.onnx" in result.stderr
