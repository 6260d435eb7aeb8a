"""Where ragbot finds its corpus and keeps its data when no setting says otherwise."""

from __future__ import annotations

from pathlib import Path

APP_NAME = "ragbot"


def packaged_corpus() -> Path:
    """The curated corpus that ships with ragbot.

    A wheel carries it as package data in `rag/corpus/` (copied there from the repository's `corpus/` at build
    time, see setup.py); a source checkout or an editable install reads the repository's `corpus/` in place, so
    curators keep editing one folder."""
    installed = Path(__file__).with_name("corpus")
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[1] / "corpus"


def default_data_dir() -> Path:
    """A per-user folder (e.g. ~/.local/share/ragbot on Linux): running ragbot never litters the current one."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
