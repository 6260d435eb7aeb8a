"""The moderators' commands: `ragbot faq export/import` and `ragbot stats`, over the curation database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from rag.errors import RagError
from ragbot.console import err, guard, load_cli_settings, out
from ragbot.startup import plural
from ragbot.terminal import render_stats

if TYPE_CHECKING:
    from curation.db import Database, Stats
    from rag.config import Settings

T = TypeVar("T")

faq_app = typer.Typer(
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Moderator-approved FAQ answers: backup and moving between servers.",
)


async def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    from ragbot.wiring import open_database

    async with open_database(settings) as db:
        return await work(db)


@faq_app.command("export")
def faq_export(
    guild: Annotated[int | None, typer.Option("--guild", help="One server's entries (default: all).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file (default: stdout).")] = None,
) -> None:
    """Write FAQ entries as JSON."""
    settings = load_cli_settings()
    entries = guard(lambda: asyncio.run(_with_db(settings, lambda db: db.export_faqs(guild))))
    text = json.dumps(entries, ensure_ascii=False, indent=2, default=str)
    if output is None:
        print(text)
        return
    guard(lambda: output.write_text(text + "\n", encoding="utf-8"))
    err.print(f"exported {plural(len(entries), 'FAQ entry', 'FAQ entries')} to {output}")


@faq_app.command("import")
def faq_import(
    file: Annotated[Path, typer.Argument(help="A file written by `ragbot faq export`.")],
    guild: Annotated[int, typer.Option("--guild", help="The server (guild id) that receives the entries.")],
    author: Annotated[int, typer.Option("--author", help="User id recorded as the entries' author.")] = 0,
) -> None:
    """Add exported FAQ entries to a server: all of them or, if one is invalid, none."""
    settings = load_cli_settings()

    def load() -> object:
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RagError(f"cannot read {file}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise RagError(f"{file} is not valid JSON ({exc})") from None

    entries = guard(load)
    added = guard(lambda: asyncio.run(_with_db(settings, lambda db: db.import_faqs(entries, guild, author))))
    err.print(
        f"imported {plural(added, 'FAQ entry', 'FAQ entries')} into guild {guild} (entries it already had were skipped)"
    )


def stats(
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="The period, ending now.")] = 7,
    guild: Annotated[int | None, typer.Option("--guild", help="One server (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also write the chart /stats shows (PNG: questions per day, votes) to FILE."),
    ] = None,
) -> None:
    """Questions, refusals, FAQ answers, ungrounded answers, votes and latency; the questions the corpus fails."""
    import datetime as dt

    from rag.budget import day_start, spend_text

    settings = load_cli_settings()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)

    async def read(db: Database) -> tuple[Stats, int]:
        return await db.stats(guild, since), await db.tokens_since(guild, day_start())

    report, today = guard(lambda: asyncio.run(_with_db(settings, read)))
    budget = settings.llm.daily_tokens_per_guild
    if as_json:
        spend = {"tokens_today": today, "daily_tokens_per_guild": budget}
        print(json.dumps(asdict(report) | {"days": days} | spend, ensure_ascii=False, default=str))
    else:
        # The budget is per server: against all servers together only the total means something.
        spent = spend_text(today, budget) if guild is not None else f"{today:,} tokens in all servers"
        out.print(render_stats(report, days, spend=spent), markup=False)
    if plot is not None:
        _plot(report, days, guild, plot)


def _plot(report: Stats, days: int, guild: int | None, path: Path) -> None:
    from curation.chart import chart_title, write_png

    guard(lambda: write_png(report, chart_title(days, f"server {guild}" if guild is not None else None), path))
    err.print(f"wrote the chart to {path}")
