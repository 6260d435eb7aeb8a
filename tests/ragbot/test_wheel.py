"""A built wheel, installed into a fresh virtual environment, answers from a folder far from the repository.

The wheel is built from a copy of the sources (the repository stays clean). The fresh venv has no pip and gets
the dependencies through a .pth line naming this environment's site-packages: a folder added that way does not
have its own .pth files run, so the editable install of the repository is invisible there, and what answers is
the wheel's code, with the corpus it carries.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import EMBED_THREADS, REPO, built_once, copy_index

_SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "rag", "bot", "curation", "ragbot")


# The wheel and its venv are built once for the run (`built_once`): the two tests may run on two xdist workers.
@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed, built from a copy of the sources."""
    return built_once(tmp_path_factory, "wheel-venv", _build_and_install) / "venv"


def _build_and_install(root: Path) -> None:
    src, out = root / "src", root / "dist"
    src.mkdir()
    for name in (*_SOURCES, "corpus"):
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(path, src / name)
    # uv builds the same wheel through the same build backend, with ~1.5 s less CPU than pip (.ci/run installs
    # it); pip builds it where uv is absent.
    uv = shutil.which("uv")
    frontend = [uv, "build", "--wheel", "-o"] if uv else [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w"]
    built = subprocess.run([*frontend, str(out), "--quiet", str(src)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    [wheel] = out.glob("ragbot-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    [purelib] = venv.glob("lib/python*/site-packages")
    (purelib / "_outer_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "-q"]
    installed = subprocess.run([*pip, str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_") and k != "PYTHONPATH"}
    return base | extra


def test_the_wheel_carries_the_corpus_and_its_own_code(venv: Path, tmp_path: Path) -> None:
    probe = "import rag.paths, ragbot.cli; print(ragbot.cli.__file__); print(rag.paths.packaged_corpus())"
    shown = subprocess.run(
        [venv / "bin" / "python", "-c", probe], capture_output=True, text=True, env=_env(), cwd=tmp_path
    )
    code_file, corpus = shown.stdout.split()
    assert Path(code_file).is_relative_to(venv) and Path(corpus).is_relative_to(venv)  # not the repository's
    assert (Path(corpus) / "briefs").is_dir() and len(list(Path(corpus).rglob("*.md"))) >= 15
    version = subprocess.run([venv / "bin" / "ragbot", "--version"], capture_output=True, text=True, env=_env())
    assert version.stdout.strip() == "ragbot 0.1.0"


def test_installed_ragbot_answers_from_any_folder(
    venv: Path, tmp_path: Path, model_dir: Path, _corpus_index: Path
) -> None:
    """The data folder starts as a copy of the index the tests build of the repository's corpus: the installed
    command finds every file of the corpus the wheel carries unchanged (their ids and contents match), so it
    answers without embedding the corpus again; a file the wheel lacked would leave the index."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy_index(_corpus_index, tmp_path / "data")
    env = _env(RAGBOT_DATA_DIR=str(tmp_path / "data"), RAGBOT_EMBEDDING__MODEL_DIR=str(model_dir))
    env["RAGBOT_EMBEDDING__THREADS"] = str(EMBED_THREADS)  # the workers already share the cores
    result = subprocess.run(
        [venv / "bin" / "ragbot", "ask", "Who founded DeepSeek?", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=elsewhere,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert not answer["refused"] and answer["grounded"] and "Liang Wenfeng" in answer["answer"]
    assert answer["citations"] and answer["citations"][0]["title"]
    assert list(elsewhere.iterdir()) == []  # no ./data or anything else left in the current folder
