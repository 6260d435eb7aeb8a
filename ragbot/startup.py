"""Checks every command makes after reading its settings: the folders they name, unknown variables."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)


def check_folders(settings: Settings) -> None:
    """A corpus folder that was configured must exist (a silent refusal to answer is worse than an error);
    the data folder must be, or become, a writable folder. Raises ConfigError naming the variable."""
    corpus = settings.corpus_dir
    if "corpus_dir" in settings.model_fields_set and not corpus.is_dir():
        what = "is a file, not a folder" if corpus.exists() else "does not exist"
        raise ConfigError(f"RAGBOT_CORPUS_DIR: {corpus} {what} (unset it to use the corpus that ships with ragbot)")
    _check_data_dir(settings.data_dir)


def _check_data_dir(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"RAGBOT_DATA_DIR: {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"RAGBOT_DATA_DIR: cannot create the folder {folder} ({exc.strerror or exc})") from None
    probe = folder / ".ragbot-write-check"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"RAGBOT_DATA_DIR: cannot write in {folder} ({exc.strerror or exc})") from None


class _DropVoiceNotice(logging.Filter):
    """discord.py warns that voice is unsupported without PyNaCl/davey; ragbot never uses voice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


def quiet_third_party() -> None:
    """Keep libraries' notices that say nothing to a ragbot user out of stderr."""
    logging.getLogger("discord.client").addFilter(_DropVoiceNotice())
    # pypdf reports every repaired defect of a PDF it still reads ("Ignoring wrong pointing object");
    # a PDF it cannot read is reported by ingest itself.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 chunk', '2 chunks'; `many` for irregular plurals ('1 FAQ entry', '3 FAQ entries')."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def variable_warnings() -> list[str]:
    """Unknown RAGBOT_ variables in the environment or .env, each with the close setting name if any."""
    from rag.settings_env import process_variables, unknown_variable_warnings

    return unknown_variable_warnings(set(process_variables()))


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("ragbot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"
