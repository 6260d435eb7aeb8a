"""A citation of a curated brief names the brief's own primary sources, so a reader can check it: in the
terminal, in `ask --json` and in `search --json` (the `ragbot` command in a subprocess, as a user runs it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import ARTICLE, CORPUS, build_index, built_once, copy_index, run_ragbot

from rag.embeddings import Embedder

BRIEF = CORPUS / "briefs" / "nvidia-sell-off-january-2025.md"
BRIEF_ID = "briefs/nvidia-sell-off-january-2025"
BRIEF_TITLE = "The Nvidia sell-off of January 27, 2025"
QUESTION = "Why did Nvidia's stock fall on January 27, 2025?"
CNBC = {
    "title": "CNBC, Jan 27, 2025",
    "url": "https://www.cnbc.com/2025/01/27/nvidia-sheds-almost-600-billion-in-market-cap-biggest-drop-ever.html",
    "confirmed": False,  # the brief marks this address `unconfirmed: true`
}
ARXIV = {"title": "DeepSeek-V3 Technical Report (arXiv, Dec 27, 2024)", "url": "https://arxiv.org/abs/2412.19437"}


@pytest.fixture(scope="session")
def _article_and_brief_index(
    tmp_path_factory: pytest.TempPathFactory, model_dir: Path, embedder: Embedder, _article_index: Path
) -> Path:
    def build(root: Path) -> None:
        _corpus(root / "source")
        build_index(root, root / "source", model_dir, embedder, start=_article_index)  # the brief is embedded

    return built_once(tmp_path_factory, "article-and-brief-index", build) / "data"


def _corpus(folder: Path) -> Path:
    """The article and one brief."""
    (folder / "briefs").mkdir(parents=True)
    shutil.copy(ARTICLE, folder / ARTICLE.name)
    shutil.copy(BRIEF, folder / "briefs" / BRIEF.name)
    return folder


@pytest.fixture
def env(tmp_path: Path, model_dir: Path, _article_and_brief_index: Path) -> dict[str, str]:
    """The two sources, indexed already (a copy of the index built once)."""
    copy_index(_article_and_brief_index, tmp_path / "data")
    return {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),
        "RAGBOT_CORPUS_DIR": str(_corpus(tmp_path / "corpus")),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
    }


def test_ask_shows_a_briefs_primary_sources(env: dict[str, str], tmp_path: Path) -> None:
    result = run_ragbot(["ask", QUESTION, "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    citations = json.loads(result.stdout)["citations"]
    briefs = [c for c in citations if c["title"] == BRIEF_TITLE]
    assert briefs, citations
    for citation in briefs:
        assert citation["url"] == "" and len(citation["primary_sources"]) == 6
        assert citation["primary_sources"][0] == CNBC
        assert citation["primary_sources"][1] == ARXIV | {"confirmed": True}
    assert all(c["primary_sources"] == [] for c in citations if c not in briefs)

    human = run_ragbot(["ask", QUESTION], env, tmp_path).stdout
    n = briefs[0]["n"]
    assert f"[{n}] {BRIEF_TITLE} (curated brief, ragbot curators, 2026-11-28)" in human
    assert f"      - CNBC, Jan 27, 2025 <{CNBC['url']}> (link not confirmed)" in human
    assert f"      - {ARXIV['title']} <{ARXIV['url']}>\n" in human


def test_search_json_gives_the_sources_primary_sources(env: dict[str, str], tmp_path: Path) -> None:
    result = run_ragbot(["search", "Nvidia market value loss January 27", "--k", "8", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    by_source = {h["source"]["id"]: h["source"]["primary_sources"] for h in hits}
    assert by_source[BRIEF_ID][:2] == [CNBC, ARXIV | {"confirmed": True}]
    assert by_source[ARTICLE.stem] == []
