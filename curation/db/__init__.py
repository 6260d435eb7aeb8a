"""Storage for the moderator features: FAQ entries, feedback votes and the answer log (SQLAlchemy 2, async).

SQLite under the data dir by default; PostgreSQL for deployments that run several bot processes."""

from __future__ import annotations

from curation.db.database import Database, resolve_url
from curation.db.records import FaqRecord, Stats, StoredAnswer

__all__ = ["Database", "FaqRecord", "Stats", "StoredAnswer", "resolve_url"]
