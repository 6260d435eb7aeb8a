"""The core's error tree. `UserFacingError` messages are safe to show to a community member as they are."""

from __future__ import annotations


class RagError(Exception):
    """Base of every error the core raises on purpose."""


class ConfigError(RagError):
    """Settings are invalid; the message names the variable and what is wrong."""


class UserFacingError(RagError):
    """An error whose message can be shown to the person who asked."""


class QuestionError(UserFacingError):
    """The question itself is unusable (empty, too long)."""


class IndexMismatchError(UserFacingError):
    """The index was built by a different embedder than the one configured."""


class EmbeddingError(RagError):
    """The embedding backend failed or returned something unusable."""


class EmbedderUnavailable(EmbeddingError):
    """No embedding model can be had (e.g. an offline machine with no model folder)."""


class DocumentError(RagError):
    """A corpus file could not be read or holds no text; ingestion reports it and skips the file."""


class DatabaseError(RagError):
    """The database cannot be used (corrupt, of another kind, newer than this code, unreachable). For operators."""


class BackendError(RagError):
    """The chat model failed. The message is for operators (logs, the CLI); Discord users get a generic line."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class UrlSourceError(UserFacingError):
    """A web address cannot become a source (refused, unreachable, too large, of the wrong type, unreadable). The
    message is one line for the curator who gave it; the index is left as it was."""


class IngestRunning(UserFacingError):
    """Another process holds the index's writer lock (a shared index has one writer at a time)."""
