"""`ragbot sources` (list, remove) and the URL half of `ragbot ingest`: pages added, refreshed and removed."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ragbot.console import err, guard, load_cli_settings, out

if TYPE_CHECKING:
    from rag.catalog import DocumentRecord
    from rag.service import RagService
    from rag.web_sources import SourceChange

sources_app = typer.Typer(
    help="List the indexed sources (corpus files and web pages) with their origin; `remove` takes a web page out.",
    rich_markup_mode=None,
    no_args_is_help=False,
)
_COLUMNS = ("id", "title", "kind", "published", "chunks", "origin")


def is_url_argument(target: str) -> bool:
    """A command-line target that names a web address rather than a file (any scheme: ftp:// gets a clear
    refusal rather than "no such file")."""
    return "://" in target


def origin(record: DocumentRecord) -> str:
    from rag.url_sources import is_url_source

    return "url" if is_url_source(record.source.id) else "corpus"


async def apply_urls(service: RagService, urls: list[str], *, refresh: bool) -> list[SourceChange]:
    """Add each URL, then (with refresh) ask every URL source's server whether it changed."""
    changes = [await service.add_url(url) for url in urls]
    if refresh:
        changes += await service.refresh_urls()
    return changes


def print_changes(changes: list[SourceChange]) -> None:
    colours = {"failed": "red", "added": "green", "updated": "green", "removed": "yellow", "unchanged": "dim"}
    for change in changes:
        colour = colours[change.outcome]
        err.print(
            f"[{colour}]{change.outcome}[/] {escape(change.target)}: {escape(change.detail)}",
            markup=True,
            highlight=False,
        )
    if not changes:
        err.print("no URL sources to refresh: add one with `ragbot ingest https://...`")


@sources_app.callback(invoke_without_command=True)
def sources(ctx: typer.Context) -> None:
    """List the indexed sources with their dates, chunk counts and origin (a corpus file or a URL)."""
    if ctx.invoked_subcommand is not None:
        return
    from rag.service import list_sources

    settings = load_cli_settings()
    records = guard(lambda: list_sources(settings))  # the catalog alone: no embedding model, no vector store
    rows = [
        (r.source.id, r.source.title, r.source.kind, r.source.published, str(r.chunk_count), origin(r)) for r in records
    ]
    if out.is_terminal:
        table = Table(*_COLUMNS)
        for row in rows:
            table.add_row(*row)
        out.print(table)
    else:  # piped: a header, then one tab-separated line per source, easy to grep and cut
        print("\t".join(_COLUMNS))
        for row in rows:
            print("\t".join(row))
    if not records:
        err.print("the index is empty: run `ragbot ingest`")


@sources_app.command()
def remove(
    target: Annotated[str, typer.Argument(help="The web address of a URL source, or its id (see `ragbot sources`).")],
) -> None:
    """Remove a URL source from the index. (A corpus file is removed by deleting the file and running ingest.)"""
    from ragbot.wiring import open_service

    settings = load_cli_settings()

    async def run() -> SourceChange:
        async with open_service(settings) as service:
            return await service.remove_source(target)

    change = guard(lambda: asyncio.run(run()))
    print_changes([change])
    if not change.ok:
        raise typer.Exit(1)
