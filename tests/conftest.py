"""Shared fixtures: real components on temporary folders. Nothing of ours is mocked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import ARTICLE, CORPUS, REPO

from rag.config import Settings
from rag.embeddings.onnx import OnnxEmbedder

pytest_plugins = ["db_fixtures"]

_MODEL_DIR = Path(
    os.environ.get("RAGBOT_EMBEDDING__MODEL_DIR") or REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2" / "onnx"
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their Settings explicitly; no RAGBOT_* variable of the caller's shell leaks in."""
    for name in list(os.environ):
        if name.startswith("RAGBOT_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    if not (_MODEL_DIR / "model.onnx").is_file():
        pytest.fail(f"the embedding model is missing: set RAGBOT_EMBEDDING__MODEL_DIR (looked in {_MODEL_DIR})")
    return _MODEL_DIR


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(model_dir)


@pytest.fixture
def make_settings(tmp_path: Path, model_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "corpus_dir": tmp_path / "corpus",
            "embedding": {"model_dir": model_dir},
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the real corpus that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    yield target


@pytest.fixture
def article_corpus(tmp_path: Path) -> Path:
    """A corpus of the source article alone."""
    target = tmp_path / "corpus"
    target.mkdir()
    shutil.copy(ARTICLE, target / ARTICLE.name)
    return target
