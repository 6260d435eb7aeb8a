"""Configured secrets never reach output: a pure redaction function and a logging filter built on it.

Every secret the settings hold (model API keys, the embedding key, the Discord token, the database password) is
replaced by `***` wherever it appears, whatever produced the text: an upstream error body echoing the key, an
exception message quoting a header, a traceback. The entry point installs the filter once, where logging is set up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from pydantic import SecretStr

    from rag.config import Settings

log = logging.getLogger(__name__)

MASK = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each non-empty secret replaced by `***` (longest first, so a secret that
    contains another is masked whole)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def configured_secrets(settings: Settings) -> tuple[str, ...]:
    """Every secret in the settings, as it could appear in text: the database password both as written in the
    URL and percent-decoded."""
    keys: list[SecretStr | None] = [
        settings.llm.api_key,
        *(endpoint.api_key for endpoint in settings.llm.fallbacks),
        settings.embedding.api_key,
        settings.discord.token,
    ]
    found = [key.get_secret_value() for key in keys if key is not None]
    if settings.database.url is not None:
        found.extend(_url_password(settings.database.url.get_secret_value()))
    return tuple(s for s in found if s)


def _url_password(url: str) -> list[str]:
    try:
        password = urlsplit(url).password
    except ValueError:  # a malformed URL; the database layer reports it
        return []
    return [password, unquote(password)] if password else []


class SecretFilter(logging.Filter):
    """Redacts a record's message, arguments and exception text. Put on handlers: a filter on a logger does not
    see records that propagate to it from child loggers."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: logging reports it when it formats the record
            return True
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # The formatter reuses exc_text when set, so the traceback it prints is the redacted one.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_installed = SecretFilter(())


def install_redaction(settings: Settings) -> SecretFilter:
    """Redact the configured secrets from every handler of the root logger (call after logging is set up) and
    from `scrub`. Installing again replaces the previous filter."""
    global _installed
    new = SecretFilter(configured_secrets(settings))
    for handler in logging.getLogger().handlers:
        handler.removeFilter(_installed)
        handler.addFilter(new)
    _installed = new
    return new


def scrub(text: str) -> str:
    """`text` with the installed secrets redacted: for lines an entry point prints itself."""
    return _installed.redact(text)
