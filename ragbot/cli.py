"""The `ragbot` command. The entry point: builds Settings, wires the service, renders results."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rag.config import Settings, load_settings
from rag.errors import ConfigError, RagError, UserFacingError
from rag.redact import install_redaction, scrub
from ragbot.terminal import answer_json, render_answer, render_stats, search_json

if TYPE_CHECKING:
    from curation.db import Database
    from rag.ingest import IngestReport, ProgressHook
    from rag.llm import ChatModel
    from rag.service import RagService
    from rag.types import Answer

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="ragbot: answers questions about AI policy from a curated corpus, citing its passages.",
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)
log = logging.getLogger("ragbot")
T = TypeVar("T")


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/] {scrub(message)}", markup=True, highlight=False)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("ragbot").setLevel(settings.log_level)
    for noisy in ("chromadb", "httpx", "bm25s", "onnxruntime"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    install_redaction(settings)  # every log line and error line from here on has the configured secrets masked
    return settings


def _guard(action: Callable[[], T]) -> T:
    """Turn every failure into one line on stderr and an exit code: users never see a traceback."""
    try:
        return action()
    except typer.Exit:
        raise
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    except (UserFacingError, RagError) as exc:
        raise _fail(str(exc), 1) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except Exception as exc:
        log.debug("unexpected failure", exc_info=True)
        raise _fail(
            f"unexpected failure ({type(exc).__name__}: {exc}); set RAGBOT_LOG_LEVEL=DEBUG for details", 1
        ) from None


@contextmanager
def _progress() -> Iterator[ProgressHook]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        tasks: dict[str, Any] = {}

        def hook(description: str, done: int, total: int) -> None:
            stage = description.split(" ")[0]
            if stage not in tasks:
                tasks[stage] = bar.add_task(description, total=total)
            bar.update(tasks[stage], description=description, completed=done, total=total)

        yield hook


def _print_report(report: IngestReport) -> None:
    err.print(f"ingest: {report.summary()} ({report.chunks_embedded} chunks embedded)")
    for path, reason in report.failed:
        err.print(f"  [yellow]skipped[/] {path}: {reason}")


async def _prepare(service: RagService) -> None:
    """Index the corpus first if it is empty or lacks vectors, with a progress bar."""
    with _progress() as hook:
        report = await service.prepare(hook)
    if report is not None:
        _print_report(report)


async def _with_service(
    settings: Settings, work: Callable[[RagService], Awaitable[T]], chat: ChatModel | None = None
) -> T:
    """Open the service, prepare the index, run `work`; the service is closed whatever happens."""
    from ragbot.wiring import open_service

    async with open_service(settings, chat=chat) as service:
        await _prepare(service)
        return await work(service)


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: the corpus folder).")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the index and build it again.")] = False,
) -> None:
    """Index the corpus: new and changed files are embedded, deleted ones removed."""
    from ragbot.wiring import open_service

    settings = _settings()

    async def run() -> IngestReport:
        async with open_service(settings) as service:
            with _progress() as hook:
                return await asyncio.to_thread(service.ingest_sync, paths or None, rebuild=rebuild, progress=hook)

    report = _guard(lambda: asyncio.run(run()))
    _print_report(report)
    if report.failed:
        raise typer.Exit(1)


@app.command()
def sources() -> None:
    """List the indexed sources with their dates and chunk counts."""
    from rag.service import list_sources

    settings = _settings()
    records = _guard(lambda: list_sources(settings))  # the catalog alone: no embedding model, no vector store
    rows = [(r.source.id, r.source.title, r.source.kind, r.source.published, str(r.chunk_count)) for r in records]
    if out.is_terminal:
        table = Table("id", "title", "kind", "published", "chunks")
        for row in rows:
            table.add_row(*row)
        out.print(table)
    else:  # piped: one tab-separated line per source, easy to grep and cut
        for row in rows:
            print("\t".join(row))
    if not records:
        err.print("the index is empty: run `ragbot ingest`")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="How many passages.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array on stdout.")] = False,
) -> None:
    """Show the passages that best match QUERY."""
    settings = _settings()
    result = _guard(lambda: asyncio.run(_with_service(settings, lambda service: service.search(query, k))))
    if as_json:
        print(json.dumps(search_json(result), ensure_ascii=False))
        return
    if not result.relevant:
        err.print("[yellow]nothing relevant found; the closest passages are:[/]")
    for rank, p in enumerate(result.passages, 1):
        out.print(f"[bold]{rank}. {p.chunk.source.title}[/] — {p.chunk.section or '(top)'}  (score {p.score:.3f})")
        out.print(f"   {p.chunk.text[:400]}{'…' if len(p.chunk.text) > 400 else ''}\n")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Answer QUESTION from the corpus, citing the passages used."""
    settings = _settings()
    live = not as_json and out.is_terminal
    answer = _guard(lambda: asyncio.run(_with_service(settings, lambda service: _ask(service, question, live=live))))
    if as_json:
        print(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        out.print(render_answer(answer), markup=False)


async def _ask(service: RagService, question: str, *, live: bool) -> Answer:
    """Stream to the terminal: a spinner while the model reasons, the text as it arrives; then the final
    rendering (citations renumbered and checked) replaces the draft."""
    from rich.live import Live
    from rich.spinner import Spinner
    from rich.text import Text

    stream = service.ask(question)
    if not live:
        return await stream
    with Live(Spinner("dots", text="searching…"), console=out, transient=True, refresh_per_second=10) as view:
        async for _ in stream:
            view.update(Text(stream.draft) if stream.draft else Spinner("dots", text="thinking…"))
    return await stream


@app.command()
def doctor() -> None:
    """Check configuration, embedding model, store and index; each line says OK or the exact problem."""
    from ragbot.doctor import run_checks

    settings = _settings()
    ok = True
    for check in run_checks(settings):
        mark = "[green]OK  [/]" if check.ok else "[red]FAIL[/]"
        out.print(f"{mark} {check.name}: {check.detail}")
        ok = ok and check.ok
    if not ok:
        raise typer.Exit(1)


@app.command("eval")
def eval_(
    golden: Annotated[Path, typer.Argument(help="The golden set (YAML).")] = Path("eval/golden.yaml"),
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Passages retrieved per question.")] = 5,
    scripted: Annotated[bool, typer.Option("--scripted", help="Use the deterministic local model.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if a threshold fails.")] = False,
    min_recall: Annotated[float, typer.Option(help="Threshold for recall@k.")] = 0.9,
    min_refusal: Annotated[float, typer.Option(help="Threshold for out-of-scope refusals.")] = 0.9,
    min_citation_validity: Annotated[float, typer.Option(help="Threshold for valid citations.")] = 1.0,
) -> None:
    """Run the golden set: retrieval recall and MRR, refusals, citation validity, facts in answers."""
    from rag.evaluation import check_thresholds, load_golden, render_report, report_json, run_eval
    from rag.llm.scripted import ScriptedChatModel

    settings = _settings()
    questions = _guard(lambda: load_golden(golden))  # a bad file fails before any indexing
    chat = ScriptedChatModel() if scripted else None
    report = _guard(lambda: asyncio.run(_with_service(settings, lambda s: run_eval(s, questions, k=k), chat)))
    if as_json:
        print(json.dumps(report_json(report), ensure_ascii=False))
    else:
        out.print(render_report(report), markup=False)
    if check:
        failed = check_thresholds(
            report, recall=min_recall, refusal=min_refusal, citation_validity=min_citation_validity
        )
        for line in failed:
            err.print(f"[red]below threshold:[/] {line}")
        if failed:
            raise typer.Exit(1)


faq_app = typer.Typer(no_args_is_help=True, help="Moderator-approved FAQ answers: backup and moving between servers.")
app.add_typer(faq_app, name="faq")


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
    settings = _settings()
    entries = _guard(lambda: asyncio.run(_with_db(settings, lambda db: db.export_faqs(guild))))
    text = json.dumps(entries, ensure_ascii=False, indent=2, default=str)
    if output is None:
        print(text)
        return
    _guard(lambda: output.write_text(text + "\n", encoding="utf-8"))
    err.print(f"exported {len(entries)} FAQ entries to {output}")


@faq_app.command("import")
def faq_import(
    file: Annotated[Path, typer.Argument(help="A file written by `ragbot faq export`.")],
    guild: Annotated[int, typer.Option("--guild", help="The server (guild id) that receives the entries.")],
    author: Annotated[int, typer.Option("--author", help="User id recorded as the entries' author.")] = 0,
) -> None:
    """Add exported FAQ entries to a server: all of them or, if one is invalid, none."""
    settings = _settings()

    def load() -> object:
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RagError(f"cannot read {file}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise RagError(f"{file} is not valid JSON ({exc})") from None

    entries = _guard(load)
    added = _guard(lambda: asyncio.run(_with_db(settings, lambda db: db.import_faqs(entries, guild, author))))
    err.print(f"imported {added} FAQ entries into guild {guild} (entries it already had were skipped)")


@app.command()
def stats(
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="The period, ending now.")] = 7,
    guild: Annotated[int | None, typer.Option("--guild", help="One server (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Questions, refusals, ungrounded answers, votes and latency; the questions the corpus fails."""
    import datetime as dt

    settings = _settings()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    report = _guard(lambda: asyncio.run(_with_db(settings, lambda db: db.stats(guild, since))))
    if as_json:
        print(json.dumps(asdict(report) | {"days": days}, ensure_ascii=False, default=str))
    else:
        out.print(render_stats(report, days), markup=False)


@app.command()
def run() -> None:
    """Start the Discord bot (stops cleanly on Ctrl-C or SIGTERM)."""
    settings = _settings()

    def start() -> None:
        from ragbot.runner import run_bot  # the Discord layer loads only for this command

        asyncio.run(run_bot(settings))

    _guard(start)


def main() -> None:
    app()
