"""Fixtures for the entry-point tests: the environment a user's `ragbot` command runs with."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import EMBED_THREADS


@pytest.fixture
def env(tmp_path: Path, model_dir: Path, article_corpus: Path) -> dict[str, str]:
    """A data folder of the test's own, the article as the corpus, and the embedding model (on one thread, as
    in-process tests run it: the workers already share the cores)."""
    return {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),
        "RAGBOT_CORPUS_DIR": str(article_corpus),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
        "RAGBOT_EMBEDDING__THREADS": str(EMBED_THREADS),
    }
