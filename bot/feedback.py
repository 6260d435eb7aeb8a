"""Answers and 👍/👎 votes, kept in the data dir (SQLite) so buttons keep working after a restart.

The moderators' issue moves this into the shared database; until then this small store is the whole of it."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path

from rag.types import Answer, Citation

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY, question TEXT NOT NULL, text TEXT NOT NULL, citations TEXT NOT NULL,
    refused INTEGER NOT NULL, grounded INTEGER NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL, user_id INTEGER NOT NULL, vote INTEGER NOT NULL, question TEXT NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (answer_id, user_id)
);
"""


class FeedbackStore:
    """Blocking; the bot calls it through asyncio.to_thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def save_answer(self, answer_id: str, question: str, answer: Answer) -> None:
        citations = json.dumps([asdict(c) for c in answer.citations], ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (answer_id, question, answer.text, citations, int(answer.refused), int(answer.grounded), time.time()),
            )

    def citations(self, answer_id: str) -> tuple[Citation, ...] | None:
        with self._lock:
            row = self._db.execute("SELECT citations FROM answers WHERE answer_id = ?", (answer_id,)).fetchone()
        return tuple(Citation(**c) for c in json.loads(row[0])) if row else None

    def vote(self, answer_id: str, user_id: int, up: bool) -> None:
        """One vote per user and answer; voting again changes it."""
        with self._lock:
            row = self._db.execute("SELECT question FROM answers WHERE answer_id = ?", (answer_id,)).fetchone()
            self._db.execute(
                "INSERT INTO votes VALUES (?, ?, ?, ?, ?) ON CONFLICT(answer_id, user_id)"
                " DO UPDATE SET vote = excluded.vote, at = excluded.at",
                (answer_id, user_id, 1 if up else -1, row[0] if row else "", time.time()),
            )

    def votes(self, answer_id: str) -> tuple[int, int]:
        with self._lock:
            rows = dict(
                self._db.execute("SELECT vote, COUNT(*) FROM votes WHERE answer_id = ? GROUP BY vote", (answer_id,))
            )
        return rows.get(1, 0), rows.get(-1, 0)
