"""Log output: plain text for a terminal, or one JSON object per line for a log collector.

JSON lines carry the time, level, logger and message, and `answer_id` while a question is being answered (the
same id the answer log and the vote buttons use), so every line about one question can be found together. Both
filters sit on the handler: the answer id is stamped on, and the configured secrets are redacted (installed by
`rag.redact.install_redaction`) before the line is formatted."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rag.observe import AnswerIdFilter

if TYPE_CHECKING:
    from rag.config import Settings

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
_QUIET = ("chromadb", "httpx", "bm25s", "onnxruntime")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is a field, not extra lines)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        answer_id = getattr(record, "answer_id", None)
        if answer_id:
            entry["answer_id"] = answer_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """Log to stderr at the configured level and format. Call once, before `install_redaction`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(AnswerIdFilter())
    logging.basicConfig(level=settings.log_level, handlers=[handler])
    logging.getLogger("ragbot").setLevel(settings.log_level)
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
