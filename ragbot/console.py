"""What every `ragbot` command shares: the two consoles, loading Settings once (with warnings, logging and
redaction), and turning every failure into one line on stderr and an exit code."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console

from rag.errors import ConfigError, RagError, UserFacingError
from rag.redact import install_redaction, scrub
from ragbot.logs import configure_logging

if TYPE_CHECKING:
    from rag.config import Settings

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)
log = logging.getLogger("ragbot")
T = TypeVar("T")


class Failure(typer.Exit):
    """An exit that remembers its one-line message (for commands that also report errors as JSON)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(code)
        self.message = message


def fail(message: str, code: int) -> typer.Exit:
    message = scrub(message)
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return Failure(message, code)


def load_cli_settings() -> Settings:
    from rag.config import load_settings  # pydantic-settings: not needed for --help
    from ragbot.startup import check_folders, quiet_third_party, variable_warnings

    try:
        settings = load_settings()
        check_folders(settings)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    for warning in variable_warnings():
        err.print(f"[yellow]warning:[/] {warning}")
    quiet_third_party()
    configure_logging(settings)  # text or JSON lines (RAGBOT_LOG_FORMAT), with the answer id
    install_redaction(settings)  # every log line and error line from here on has the configured secrets masked
    return settings


def guard(action: Callable[[], T]) -> T:
    """Turn every failure into one line on stderr and an exit code: users never see a traceback."""
    try:
        return action()
    except typer.Exit:
        raise
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    except (UserFacingError, RagError) as exc:
        raise fail(str(exc), 1) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None
    except Exception as exc:
        log.debug("unexpected failure", exc_info=True)
        raise fail(
            f"unexpected failure ({type(exc).__name__}: {exc}); set RAGBOT_LOG_LEVEL=DEBUG for details", 1
        ) from None
