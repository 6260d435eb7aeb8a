"""Source dates: parsing the partial dates curators write, and flagging sources that may be outdated. Pure."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import re

from rag.types import Answer

_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")


def latest_date(published: str) -> dt.date | None:
    """The last day a partial date can mean: "2025" -> 2025-12-31, "2025-01" -> 2025-01-31. None if unparsable.
    The latest reading is the kind one: a source is never called old for a date it might not have."""
    match = _DATE.match(published or "")
    if not match:
        return None
    year = int(match.group(1))
    month = int(match.group(2) or 12)
    if not 1 <= month <= 12:
        return None
    day = int(match.group(3) or calendar.monthrange(year, month)[1])
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def months_between(earlier: dt.date, later: dt.date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month - (later.day < earlier.day)


def mark_outdated(answer: Answer, months: int | None, today: dt.date | None = None) -> Answer:
    """Flag the citations whose source is older than `months` (None: never)."""
    if months is None or not answer.citations:
        return answer
    today = today or dt.date.today()
    citations = tuple(
        dataclasses.replace(
            c, outdated=(d := latest_date(c.published)) is not None and months_between(d, today) >= months
        )
        for c in answer.citations
    )
    return dataclasses.replace(answer, citations=citations)
