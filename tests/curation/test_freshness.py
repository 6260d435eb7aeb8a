"""Whether an FAQ entry is still fresh, compared with the index as it is now (pure functions), and the review
date as moderators type it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from curation.db.background import BackgroundWrites
from curation.db.records import CitedSource, FaqRecord
from curation.faq import parse_review_date
from curation.freshness import Freshness, check, cited_sources
from rag.catalog import DocumentRecord
from rag.errors import DatabaseError, UserFacingError
from rag.types import Chunk, Citation, SourceInfo

TODAY = date(2026, 12, 1)
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
ACT = SourceInfo("eu-ai-act", "EU AI Act", "https://eu.example/act")
RULE = SourceInfo("diffusion-rule", "AI diffusion rule", "https://us.example/rule")


def _doc(source: SourceInfo, content_hash: str) -> DocumentRecord:
    return DocumentRecord(source, f"{source.id}.md", content_hash, 3, "2026-01-01", {})


def _citation(n: int, chunk_id: str, source: SourceInfo) -> Citation:
    return Citation(n, chunk_id, source.title, source.url, "2025", "", "quote")


def _entry(*citations: Citation, cited: tuple[CitedSource, ...] | None = None, review: date | None = None) -> FaqRecord:
    return FaqRecord(1, 9, "Q?", "A.", citations, 7, WHEN, WHEN, review_by=review, cited_sources=cited)


def test_saving_records_each_cited_sources_version_once() -> None:
    chunks = {
        "act-1": Chunk("act-1", ACT, "t", (), 0, 1),
        "act-2": Chunk("act-2", ACT, "t", (), 2, 3),
        "rule-1": Chunk("rule-1", RULE, "t", (), 0, 1),
    }
    citations = [_citation(1, "act-1", ACT), _citation(2, "act-2", ACT), _citation(3, "gone", RULE)]
    recorded = cited_sources(citations, chunks, [_doc(ACT, "h1"), _doc(RULE, "h2")])
    assert recorded == (CitedSource("eu-ai-act", "h1", "EU AI Act"),)  # a passage already gone records nothing


def test_recorded_versions_say_changed_or_removed() -> None:
    entry = _entry(
        _citation(1, "act-1", ACT),
        _citation(2, "rule-1", RULE),
        cited=(CitedSource("eu-ai-act", "h1", "EU AI Act"), CitedSource("diffusion-rule", "h2", "AI diffusion rule")),
    )
    live = {"act-1", "rule-1"}
    assert check(entry, [_doc(ACT, "h1"), _doc(RULE, "h2")], live, TODAY) == Freshness()
    assert not check(entry, [_doc(ACT, "h1"), _doc(RULE, "h2")], live, TODAY).stale
    # The act's text changed elsewhere (its cited passage is still there); the rule was removed.
    assert check(entry, [_doc(ACT, "h1-new")], {"act-1"}, TODAY) == Freshness(
        changed=("EU AI Act",), removed=("AI diffusion rule",)
    )


def test_entries_saved_before_versions_were_kept_are_judged_by_their_passages() -> None:
    entry = _entry(_citation(1, "act-old", ACT), _citation(2, "rule-old", RULE), _citation(3, "act-2", ACT))
    docs = [_doc(ACT, "h1")]  # the act is still indexed (its passage changed); the rule is not
    assert check(entry, docs, {"act-2"}, TODAY) == Freshness(changed=("EU AI Act",), removed=("AI diffusion rule",))
    assert check(entry, docs, {"act-old", "rule-old", "act-2"}, TODAY) == Freshness()


def test_a_review_date_flags_only_once_it_has_passed() -> None:
    assert check(_entry(review=date(2026, 11, 30)), [], set(), TODAY).review_due == date(2026, 11, 30)
    assert check(_entry(review=TODAY), [], set(), TODAY).review_due is None  # due today: not yet late
    assert check(_entry(), [], set(), TODAY) == Freshness()


def test_review_dates_as_typed() -> None:
    assert parse_review_date(" 2027-03-31 ") == date(2027, 3, 31)
    assert parse_review_date("   ") is None
    for typed in ("31/03/2027", "2027-02-30", "2027-3-31", "2027-W13-3", "x" * 100):
        with pytest.raises(UserFacingError, match=r"is not a date: write it as YYYY-MM-DD \(for example 2027-03-31\)"):
            parse_review_date(typed)


async def test_a_background_write_is_retried_then_given_up_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    writes = BackgroundWrites(retry_delays=(0.01, 0.01))
    attempts = {"flaky": 0, "down": 0}

    async def flaky() -> None:  # a database busy twice, then free
        attempts["flaky"] += 1
        if attempts["flaky"] < 3:
            raise DatabaseError("database is locked")

    async def down() -> None:
        attempts["down"] += 1
        raise DatabaseError("connection refused")

    writes.start("a flaky use", flaky)
    writes.start("a lost use", down)
    await writes.drain()
    assert attempts == {"flaky": 3, "down": 3}
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "gave up recording a lost use: connection refused"
    ]


async def test_draining_waits_for_slow_writes_and_gives_up_on_stuck_ones(caplog: pytest.LogCaptureFixture) -> None:
    writes, done = BackgroundWrites(), []

    async def slow() -> None:
        await asyncio.sleep(0.05)
        done.append("slow")

    async def stuck() -> None:
        await asyncio.sleep(3600)

    writes.start("a slow use", slow)
    await writes.drain()
    assert done == ["slow"]
    writes.start("a stuck use", stuck)
    await writes.drain(timeout=0.05)
    assert "background writes that did not finish before the database closed: 1" in caplog.text
