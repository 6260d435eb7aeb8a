"""FAQ entries: validating what moderators write, and matching a question against a guild's entries.

Every question is matched against its guild's FAQ before retrieval (the core asks `FaqBook.find` through its
`ApprovedAnswers` protocol); a match is answered with the entry."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from rag.approved import ApprovedAnswer
from rag.citations import terms
from rag.errors import EmbeddingError, UserFacingError
from rag.text import has_lone_surrogate

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from curation.db import Database
    from rag.embeddings import Embedder

log = logging.getLogger(__name__)

FAQ_QUESTION_MAX_CHARS = 300
# An entry is shown as "**Q:** question\n**A:** answer" plus a footer; 1,800 leaves room under Discord's 2,000.
FAQ_ANSWER_MAX_CHARS = 1800
# Without embeddings only near-identical wording is safe: "Who founded OpenAI?" shares 2 of 3 content words
# with "Who founded DeepSeek?" (Dice 0.67), so the bar sits above that.
LEXICAL_ONLY_THRESHOLD = 0.8
COSINE_WEIGHT = 0.7
LEXICAL_WEIGHT = 0.3

_MASS_MENTION = re.compile(r"@(?:everyone|here)\b|<@&\d+>", re.IGNORECASE)
# PostgreSQL text cannot hold NUL at all; C1 controls include the 8-bit CSI that terminals obey.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Question words that ask for different things: an entry answering "who" must not answer "when".
_ASKS = {"who": "who", "whom": "who", "whose": "who", "when": "when", "where": "where", "why": "why", "how": "how"}
_WORD = re.compile(r"[a-z]+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
REVIEW_DATE_EXAMPLE = "2027-03-31"


class Matchable(Protocol):
    """What FaqMatcher compares a question with: FAQ entries, and the review queue's open cards."""

    @property
    def id(self) -> int: ...
    @property
    def question(self) -> str: ...
    @property
    def updated_at(self) -> datetime: ...  # a new value means a new question: its vector is computed again


_M = TypeVar("_M", bound=Matchable)


def validate_faq(question: str, answer: str) -> tuple[str, str]:
    """The entry's question and answer, stripped; UserFacingError says what to fix. Markdown is allowed
    (answers are shown as written); mass mentions are not, although messages never ping anyway."""
    question, answer = question.strip(), answer.strip()
    for label, text, limit in (
        ("question", question, FAQ_QUESTION_MAX_CHARS),
        ("answer", answer, FAQ_ANSWER_MAX_CHARS),
    ):
        if not text:
            raise UserFacingError(f"The {label} is empty.")
        if len(text) > limit:
            raise UserFacingError(f"The {label} is too long ({len(text):,} characters; at most {limit:,}).")
        if _MASS_MENTION.search(text):
            raise UserFacingError(f"The {label} mentions @everyone, @here or a role; remove the mention.")
        if _CONTROL.search(text):
            raise UserFacingError(f"The {label} contains control characters; remove them.")
        if has_lone_surrogate(text):
            raise UserFacingError(f"The {label} contains broken Unicode (a lone surrogate); retype those characters.")
    return question, answer


def parse_review_date(text: str) -> date | None:
    """A "review by" date as moderators type it (YYYY-MM-DD); None for an empty field. UserFacingError otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass  # 2027-02-30: shaped like a date, but none
    shown = text if len(text) <= 40 else text[:39] + "…"
    raise UserFacingError(
        f"The review date {shown!r} is not a date: write it as YYYY-MM-DD (for example {REVIEW_DATE_EXAMPLE}),"
        " or leave it empty."
    )


def lexical_overlap(a: str, b: str) -> float:
    """Dice coefficient of the two texts' content words: symmetric, 1.0 for the same words."""
    left, right = terms(a), terms(b)
    if not left or not right:
        return 0.0
    return 2 * len(left & right) / (len(left) + len(right))


def _asks(text: str) -> set[str]:
    return {_ASKS[w] for w in _WORD.findall(text.lower()) if w in _ASKS}


def asks_differently(a: str, b: str) -> bool:
    """True when both questions carry a question word and they share none ("who founded" vs "when founded").
    Embeddings score such pairs as near-identical; "what" and "which" ask for anything and never disagree."""
    left, right = _asks(a), _asks(b)
    return bool(left and right and not left & right)


class FaqMatcher:
    """Finds the FAQ entry a question asks for. Blocking (it embeds): async callers use asyncio.to_thread.

    score = 0.7 · cosine(question, entry question) + 0.3 · word overlap, matched when ≥ `threshold`.
    With no embedder (or when it fails) the score is the word overlap alone, against `lexical_threshold`.
    Callers pass only the asking guild's entries (Database.faqs_for_guild)."""

    def __init__(
        self,
        embedder: Embedder | None,
        threshold: float,
        *,
        lexical_threshold: float = LEXICAL_ONLY_THRESHOLD,
    ) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.lexical_threshold = lexical_threshold
        # Vectors of entry questions, keyed by (id, updated_at) so an edited entry is embedded again.
        self._vectors: dict[tuple[int, datetime], npt.NDArray[np.float32]] = {}
        self._lock = threading.Lock()

    def match(self, question: str, entries: Sequence[_M]) -> tuple[_M, float] | None:
        """The best-scoring entry and its score, or None when none clears the threshold."""
        candidates = [e for e in entries if not asks_differently(question, e.question)]
        if not candidates or not question.strip():
            return None
        cosines = self._cosines(question, candidates)
        if cosines is None:
            scored = [(e, lexical_overlap(question, e.question)) for e in candidates]
            threshold = self.lexical_threshold
        else:
            scored = [
                (e, COSINE_WEIGHT * c + LEXICAL_WEIGHT * lexical_overlap(question, e.question))
                for e, c in zip(candidates, cosines, strict=True)
            ]
            threshold = self.threshold
        best, score = max(scored, key=lambda pair: pair[1])
        log.debug("best FAQ entry %d for %r scores %.3f (threshold %.2f)", best.id, question, score, threshold)
        return (best, score) if score >= threshold else None

    def _cosines(self, question: str, entries: Sequence[Matchable]) -> list[float] | None:
        if self.embedder is None:
            return None
        try:
            vectors = self._entry_vectors(entries)
            query = self.embedder.embed([question])[0]
        except EmbeddingError as exc:
            log.warning("FAQ matching falls back to word overlap: %s", exc)
            return None
        return [float(v @ query) for v in vectors]  # unit vectors: the dot product is the cosine

    def _entry_vectors(self, entries: Sequence[Matchable]) -> list[npt.NDArray[np.float32]]:
        assert self.embedder is not None
        keys = [(e.id, e.updated_at) for e in entries]
        with self._lock:
            known = {k: self._vectors[k] for k in keys if k in self._vectors}
        missing = [i for i, k in enumerate(keys) if k not in known]
        if missing:
            fresh = self.embedder.embed([entries[i].question for i in missing])
            known.update((keys[i], fresh[j]) for j, i in enumerate(missing))
            edited = {keys[i][0] for i in missing}
            with self._lock:
                for key in [k for k in self._vectors if k[0] in edited]:
                    del self._vectors[key]
                self._vectors.update((keys[i], fresh[j]) for j, i in enumerate(missing))
        return [known[k] for k in keys]


class FaqBook:
    """The guild's FAQ entries in the database, matched with FaqMatcher: what the core asks before retrieval."""

    def __init__(self, db: Database, embedder: Embedder | None, threshold: float) -> None:
        self.db = db
        self.matcher = FaqMatcher(embedder, threshold)

    async def find(self, question: str, guild_id: int) -> ApprovedAnswer | None:
        entries = await self.db.faqs_for_guild(guild_id)
        if not entries:
            return None
        match = await asyncio.to_thread(self.matcher.match, question, entries)
        if match is None:
            return None
        entry, score = match
        log.info("FAQ %d answered %r (score %.2f)", entry.id, question[:80], score)
        # The entry is what the core answers with now: count the use, without the answer waiting for the write.
        self.db.note_faq_use(entry.id, guild_id)
        return ApprovedAnswer(entry.id, entry.question, entry.answer, entry.citations)
