"""The layout's one rule: imports flow down only, ragbot -> bot -> curation -> rag, and discord stays in bot/."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

# Each package may import only the packages after it in this order.
LAYERS = ("ragbot", "bot", "curation", "rag")
# Third-party libraries that belong to one layer: the core must not load Discord or the database.
OWNED = {"discord": "bot", "sqlalchemy": "curation", "alembic": "curation", "typer": "ragbot", "rich": "ragbot"}
# Owned libraries that a dependency of a lower layer loads by itself, so only the import statements are checked:
# httpx (the core's HTTP client, and openai's) imports rich for its command-line client whenever rich is installed.
LOADED_BY_DEPENDENCIES = {"rich"}


def _modules(package: str) -> list[str]:
    root = REPO / package
    names = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts and path.name != "__init__.py":
            continue  # Alembic loads these itself, as scripts
        parts = path.relative_to(REPO).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _imported(path: Path) -> set[str]:
    """Every top-level package an import statement in the file names: module level, in functions, and under
    TYPE_CHECKING alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _forbidden(package: str) -> set[str]:
    """The packages (ours and the layer-owned libraries) that `package` must never import."""
    above = set(LAYERS[: LAYERS.index(package)])
    return above | {lib for lib, owner in OWNED.items() if owner in above}


@pytest.mark.parametrize("package", LAYERS)
def test_no_import_statement_points_up(package: str) -> None:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        for name in sorted(_imported(path) & _forbidden(package)):
            bad.append(f"{path.relative_to(REPO)} imports {name}")
    assert bad == []


@pytest.fixture(scope="module")
def loaded_from_above() -> dict[str, list[str]]:
    """One fresh interpreter imports every module of each layer, the lowest first, and lists after each layer what
    had been loaded from above it. A layer is checked with the layers below it loaded, which it may load itself."""
    code = "import importlib, json, sys\nfound = {}\n"
    for package in reversed(LAYERS[1:]):
        forbidden = sorted(_forbidden(package) - LOADED_BY_DEPENDENCIES)
        code += (
            f"for name in {_modules(package)!r}: importlib.import_module(name)\n"
            f"found[{package!r}] = sorted({{m.split('.')[0] for m in sys.modules}} & set({forbidden!r}))\n"
        )
    code += "print(json.dumps(found))\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    found: dict[str, list[str]] = json.loads(result.stdout)
    return found


@pytest.mark.parametrize("package", LAYERS[1:])
def test_loading_a_layer_loads_nothing_above_it(package: str, loaded_from_above: dict[str, list[str]]) -> None:
    assert loaded_from_above[package] == []


def test_every_module_belongs_to_a_layer() -> None:
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")}
    assert packages == set(LAYERS)
