"""The stats chart drawn from stats data: a valid PNG of the documented size, every day of the period on the
axis, and a picture that says so when there is nothing to draw."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from curation.chart import DPI, SIZE_INCHES, chart_title, period_days, render_png, stats_figure, write_png
from curation.db.records import DayCounts, Stats
from rag.errors import UserFacingError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SINCE = datetime(2026, 11, 24, 18, 30, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)


def _stats(*daily: DayCounts) -> Stats:
    questions = sum(d.questions for d in daily)
    up, down = sum(d.up for d in daily), sum(d.down for d in daily)
    return Stats(SINCE, UNTIL, questions, 0, 0, up, down, None, None, (), (), daily=daily)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, which must come first."""
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _texts(stats: Stats) -> list[str]:
    figure = stats_figure(stats, "t")
    return [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]  # type: ignore[attr-defined]


def test_the_chart_is_a_png_of_the_documented_size() -> None:
    stats = _stats(
        DayCounts(SINCE.date() + timedelta(1), cited=5, faq=2, uncited=1, refused=3, up=4, down=1),
        DayCounts(SINCE.date() + timedelta(4), cited=1, refused=1, down=2),
    )
    png = render_png(stats, chart_title(7))
    assert png_size(png) == (int(SIZE_INCHES[0] * DPI), int(SIZE_INCHES[1] * DPI))
    texts = _texts(stats)
    for label in ("answered with sources", "from the FAQ", "no valid citation", "refused"):
        assert label in texts
    assert "Votes: 4 up · 3 down · 57% helpful" in texts
    assert "Nov 24" in texts and "Dec 01" in texts  # the whole period, days without questions included


def test_every_day_of_the_period_is_on_the_axis_with_zeros_where_nothing_happened() -> None:
    busy = DayCounts(SINCE.date() + timedelta(2), cited=3)
    days = period_days(_stats(busy))
    assert [d.day for d in days] == [SINCE.date() + timedelta(n) for n in range(8)]
    assert [d.questions for d in days] == [0, 0, 3, 0, 0, 0, 0, 0]


def test_no_questions_yet_still_gives_a_readable_picture() -> None:
    empty = _stats()
    png = render_png(empty, chart_title(7))
    assert png_size(png) == (800, 500)
    assert "No questions or votes in this period yet." in _texts(empty)
    assert chart_title(1, "AI Policy") == "ragbot — the last 24 hours in AI Policy"


def test_a_long_period_draws_every_day(tmp_path: Path) -> None:
    year = tuple(DayCounts(SINCE.date() - timedelta(n), cited=n % 7, up=n % 3) for n in range(365))
    stats = Stats(SINCE - timedelta(days=365), SINCE, 0, 0, 0, 0, 0, None, None, (), (), daily=year)
    path = tmp_path / "year.png"
    write_png(stats, chart_title(365), path)
    assert png_size(path.read_bytes()) == (800, 500)


def test_a_path_that_cannot_be_written_is_one_clear_line(tmp_path: Path) -> None:
    for path, reason in (
        (tmp_path / "missing" / "chart.png", "No such file or directory"),
        (tmp_path, "it is a folder; give a file name such as stats.png"),
    ):
        with pytest.raises(UserFacingError) as info:
            write_png(_stats(), "t", path)
        assert str(info.value) == f"cannot write the chart to {path}: {reason}"
    assert [p.name for p in tmp_path.iterdir()] == []
