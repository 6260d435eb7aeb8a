"""The forum help desk's decisions, apart from Discord calls: the question a post asks, the tag a setting names,
whether a post's tags close it, and how many forum answers a member has had today."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)
_ENDS_SENTENCE = (".", "?", "!", ":", "…")
# Discord's user, role and channel mention tokens (<@id>, <@!id>, <@&id>, <#id>).
_MENTION_TOKEN = re.compile(r"<(?:@[!&]?|#)\d+>")


class NamedTag(Protocol):
    """What the desk reads of a forum tag (discord.ForumTag has it)."""

    @property
    def name(self) -> str: ...


_Tag = TypeVar("_Tag", bound=NamedTag)


def without_mentions(text: str) -> str:
    """The text without mention tokens: their long ids would be searched as if they were facts to look up (a
    number the sources never mention makes the core refuse), and who was mentioned is not the question."""
    return " ".join(_MENTION_TOKEN.sub(" ", text).split())


def post_question(title: str, texts: Sequence[str], limit: int) -> str:
    """One question from a post: its title, then the opening message and the poster's quick additions, cut to
    `limit` characters. The title comes first because it is what the poster chose to sum the question up; it is
    left out when the opening already starts with it (many posters paste the title as the first line)."""
    parts = [without_mentions(t) for t in texts]
    parts = [p for p in parts if p]
    heading = without_mentions(title)
    if heading and not (parts and parts[0].casefold().startswith(heading.casefold())):
        parts.insert(0, heading if heading.endswith(_ENDS_SENTENCE) else f"{heading}.")
    question = "\n".join(parts)
    return question if len(question) <= limit else question[: limit - 1].rstrip() + "…"


def find_tag(tags: Iterable[_Tag], name: str) -> _Tag | None:
    """The tag a setting names; case and surrounding spaces do not matter (moderators type names by hand)."""
    wanted = name.strip().casefold()
    return next((t for t in tags if t.name.strip().casefold() == wanted), None)


def closes_post(applied: Iterable[NamedTag], closing_names: Iterable[str]) -> bool:
    """Whether a post carries one of the tags after which the bot stays out (Solved, Needs human)."""
    closing = {n.strip().casefold() for n in closing_names}
    return any(t.name.strip().casefold() in closing for t in applied)


def _today() -> date:
    return datetime.now(UTC).date()


class DailyCap:
    """At most `cap` forum answers per member per UTC day; the first refusal of a day is the one to explain."""

    def __init__(self, cap: int, today: Callable[[], date] = _today) -> None:
        self.cap = cap
        self._today = today
        self._day = today()
        self._given: dict[int, int] = {}
        self._told: set[int] = set()

    def _roll(self) -> None:
        if (day := self._today()) != self._day:  # a new day: everyone starts again (and memory stays small)
            self._day, self._given, self._told = day, {}, set()

    def take(self, user_id: int) -> bool:
        """True (and counted) if this member may have another answer today."""
        self._roll()
        if self._given.get(user_id, 0) >= self.cap:
            return False
        self._given[user_id] = self._given.get(user_id, 0) + 1
        return True

    def first_refusal(self, user_id: int) -> bool:
        """True once per member and day: the note about the cap is written once, not under every message."""
        self._roll()
        if user_id in self._told:
            return False
        self._told.add(user_id)
        return True
