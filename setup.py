"""Build hook: the curated corpus travels in the wheel as package data (`rag/corpus/`).

Curators edit `corpus/` at the repository root; an editable install reads it there (rag.paths.packaged_corpus),
so only a built wheel needs the copy. Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCorpus(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "rag" / "corpus"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "corpus", target, ignore=shutil.ignore_patterns(".*", "__pycache__"))


setup(cmdclass={"build_py": BuildWithCorpus})
