"""The /stats and `ragbot stats --plot` picture: questions per day by outcome, and the votes per day.

matplotlib is imported here, inside the functions, only when a chart is drawn: it costs a noticeable part of a
second (see README, "Charts"), which `ragbot` start-up and the commands that draw nothing should not pay. The
figure is a plain `Figure` drawn by the Agg canvas: no pyplot, no display and no global state, so charts may be
drawn in worker threads. Drawing blocks (tens of milliseconds): the bot calls `render_png` via asyncio.to_thread."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from curation.db.records import DayCounts
from rag.errors import UserFacingError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from curation.db.records import Stats

log = logging.getLogger(__name__)

FILENAME = "stats.png"
SIZE_INCHES = (8.0, 5.0)
DPI = 100  # 800 × 500 pixels: readable in Discord's preview without opening it
# (label, DayCounts field, colour), stacked bottom to top; colours from the colour-blind-safe Okabe–Ito palette.
OUTCOMES = (
    ("answered with sources", "cited", "#009E73"),
    ("from the FAQ", "faq", "#0072B2"),
    ("no valid citation", "uncited", "#E69F00"),
    ("refused", "refused", "#999999"),
)
UP_COLOUR, DOWN_COLOUR = "#009E73", "#D55E00"
MAX_LABELLED_DAYS = 14  # past this the axis labels every few days
# Past this many days one bar per day per series costs seconds to draw (a rectangle each); a filled step
# outline per series draws the same heights as one shape.
MAX_BARS = 62


def period_days(stats: Stats) -> list[DayCounts]:
    """Every UTC day of the stats' period, oldest first; days without questions or votes are zeros."""
    first = stats.since.astimezone(UTC).date()
    last = (stats.until or datetime.now(UTC)).astimezone(UTC).date()
    known = {d.day: d for d in stats.daily}
    first = min([first, *known]) if known else first
    last = max([last, *known]) if known else last
    span = (last - first).days + 1
    return [known.get(first + timedelta(n), DayCounts(first + timedelta(n))) for n in range(span)]


def stats_figure(stats: Stats, title: str) -> Figure:
    """The chart of `stats` (from Database.stats): pure apart from importing matplotlib."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    days = period_days(stats)
    if not any(d.questions or d.up or d.down for d in days):
        _empty(figure, title)
        return figure
    questions, votes = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    figure.suptitle(title, fontsize=13)
    _outcomes(questions, days)
    _votes(votes, days, stats)
    _date_axis(votes, [d.day for d in days])
    return figure


def _empty(figure: Figure, title: str) -> None:
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(title, fontsize=13)
    axes.text(0.5, 0.55, "No questions or votes in this period yet.", ha="center", va="center", fontsize=15)
    axes.text(0.5, 0.4, "Ask the bot something; the chart fills in day by day.", ha="center", fontsize=11)


def _outcomes(axes: Axes, days: Sequence[DayCounts]) -> None:
    bottom = [0] * len(days)
    for label, field, colour in OUTCOMES:
        heights = [getattr(d, field) for d in days]
        _bars(axes, heights, bottom, colour, label)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.set_ylabel("questions")
    _whole_numbers(axes)
    axes.legend(loc="upper left", fontsize=8, ncols=2, frameon=False)
    axes.set_ylim(0, max(max(bottom) * 1.35, 1))  # headroom for the legend
    axes.grid(axis="y", alpha=0.3)


def _votes(axes: Axes, days: Sequence[DayCounts], stats: Stats) -> None:
    zeros = [0] * len(days)
    _bars(axes, [d.up for d in days], zeros, UP_COLOUR, "helpful (thumbs up)")
    _bars(axes, [-d.down for d in days], zeros, DOWN_COLOUR, "not helpful (thumbs down)")
    axes.axhline(0, color="black", linewidth=0.8)
    share = "no votes" if stats.up_ratio is None else f"{stats.up_ratio:.0%} helpful"
    axes.set_title(f"Votes: {stats.up} up · {stats.down} down · {share}", fontsize=10, loc="left")
    axes.set_ylabel("votes")
    _whole_numbers(axes)
    top = max([1, *(d.up for d in days), *(d.down for d in days)])
    axes.set_ylim(-top * 1.2, top * 1.7)  # headroom above for the legend
    axes.legend(loc="upper left", fontsize=8, ncols=2, frameon=False)
    axes.grid(axis="y", alpha=0.3)


def _whole_numbers(axes: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 2.5 questions


def _bars(axes: Axes, heights: Sequence[int], bottom: Sequence[int], colour: str, label: str) -> None:
    """One bar per day, stacked on `bottom`; for long periods one filled step outline (see MAX_BARS)."""
    if len(heights) <= MAX_BARS:
        axes.bar(range(len(heights)), heights, bottom=bottom, color=colour, label=label, width=0.8)
        return
    tops = [b + h for b, h in zip(bottom, heights, strict=True)]
    edges = [i - 0.5 for i in range(len(heights) + 1)]
    axes.stairs(tops, edges, baseline=bottom, fill=True, color=colour, label=label)


def _date_axis(axes: Axes, days: Sequence[date]) -> None:
    step = max(1, -(-len(days) // MAX_LABELLED_DAYS))
    ticks = list(range(0, len(days), step))
    axes.set_xticks(ticks, [days[i].strftime("%b %d") for i in ticks], rotation=45, ha="right", fontsize=8)
    axes.set_xlim(-0.6, len(days) - 0.4)


def render_png(stats: Stats, title: str) -> bytes:
    """The chart as PNG bytes (blocking)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = stats_figure(stats, title)
    FigureCanvasAgg(figure)  # attaches itself: savefig draws with Agg, whatever backend matplotlib would pick
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_png(stats: Stats, title: str, path: Path) -> None:
    """Write the chart to `path`; UserFacingError (one line) when the file cannot be written."""
    if path.is_dir():
        raise UserFacingError(f"cannot write the chart to {path}: it is a folder; give a file name such as {FILENAME}")
    png = render_png(stats, title)
    try:
        path.write_bytes(png)
    except OSError as exc:
        raise UserFacingError(f"cannot write the chart to {path}: {exc.strerror or exc}") from None
    log.info("wrote the stats chart to %s (%d bytes)", path, len(png))


def chart_title(days: int, guild: str | None = None) -> str:
    period = "24 hours" if days == 1 else f"{days} days"
    return f"ragbot — the last {period}" + (f" in {guild}" if guild else "")
