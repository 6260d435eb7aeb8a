"""The `ragbot` command. The entry point: builds Settings, wires the service, renders results."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rag.errors import ConfigError, RagError, UserFacingError
from rag.observe import current_answer_id
from rag.redact import install_redaction, scrub
from rag.text import clean_text
from ragbot.logs import configure_logging
from ragbot.startup import plural
from ragbot.terminal import answer_json, render_answer, render_stats, search_json

if TYPE_CHECKING:
    from curation.db import Database
    from rag.config import Settings
    from rag.ingest import IngestReport, ProgressHook
    from rag.llm import ChatModel
    from rag.service import RagService
    from rag.types import Answer

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,  # click's plain help: flags read `--json`, not `--json <bool>`
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="ragbot: answers questions about AI policy from a curated corpus, citing its passages.",
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)
log = logging.getLogger("ragbot")
T = TypeVar("T")


class _Failure(typer.Exit):
    """An exit that remembers its one-line message (for commands that also report errors as JSON)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(code)
        self.message = message


def _fail(message: str, code: int) -> typer.Exit:
    message = scrub(message)
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return _Failure(message, code)


def _settings() -> Settings:
    from rag.config import load_settings  # pydantic-settings: not needed for --help
    from ragbot.startup import check_folders, quiet_third_party, variable_warnings

    try:
        settings = load_settings()
        check_folders(settings)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    for warning in variable_warnings():
        err.print(f"[yellow]warning:[/] {warning}")
    quiet_third_party()
    configure_logging(settings)  # text or JSON lines (RAGBOT_LOG_FORMAT), with the answer id
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
    err.print(f"ingest: {report.summary()} ({plural(report.chunks_embedded, 'chunk')} embedded)")
    for path, reason in report.skipped + report.failed:
        err.print(f"  [yellow]skipped[/] {escape(path)}: {escape(reason)}", markup=True, highlight=False)


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
    else:  # piped: a header, then one tab-separated line per source, easy to grep and cut
        print("\t".join(("id", "title", "kind", "published", "chunks")))
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
    """Show the passages that best match QUERY.

    The score fuses the semantic and the keyword ranking (reciprocal rank fusion): higher ranks better; it is not
    a percentage. "similarity" is the passage's cosine similarity to the query (semantic search only)."""
    settings = _settings()
    result = _guard(lambda: asyncio.run(_with_service(settings, lambda service: service.search(query, k))))
    if as_json:
        print(json.dumps(search_json(result), ensure_ascii=False))
        return
    if not result.relevant:
        err.print("[yellow]nothing relevant found; the closest passages are:[/]")
    if result.passages:
        err.print("score: the fused rank of semantic and keyword search (higher is better, not a percentage)")
    for rank, p in enumerate(result.passages, 1):
        title, section, text = (escape(clean_text(x)) for x in (p.chunk.source.title, p.chunk.section, p.chunk.text))
        similarity = f", similarity {p.dense_similarity:.2f}" if p.dense_similarity is not None else ""
        out.print(f"[bold]{rank}. {title}[/] — {section or '(top)'}  (score {p.score:.3f}{similarity})")
        out.print(f"   {text[:400]}{'…' if len(text) > 400 else ''}\n")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Answer QUESTION from the corpus, citing the passages used."""
    settings = _settings()
    live = not as_json and out.is_terminal
    try:
        answer = _guard(
            lambda: asyncio.run(_with_service(settings, lambda service: _ask(service, question, live=live)))
        )
    except _Failure as failure:
        if as_json:  # a script reading stdout gets JSON either way
            print(json.dumps({"error": failure.message, "exit_code": failure.exit_code}, ensure_ascii=False))
        raise
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

    current_answer_id.set(secrets.token_hex(6))  # ties this question's log lines together (RAGBOT_LOG_FORMAT=json)
    stream = service.ask(question)
    if not live:
        return await stream
    with Live(Spinner("dots", text="searching…"), console=out, transient=True, refresh_per_second=10) as view:
        async for _ in stream:
            view.update(Text(stream.draft) if stream.draft else Spinner("dots", text="thinking…"))
    return await stream


@app.command()
def chat() -> None:
    """Talk with ragbot in the terminal: follow-up questions build on the earlier ones.

    /sources shows the last answer's sources in full; /quit (or Ctrl-D, Ctrl-C) ends the session."""
    from ragbot.chat import chat_command
    from ragbot.wiring import open_service

    settings = _settings()
    _guard(lambda: chat_command(lambda: open_service(settings), _prepare, out))


@app.command()
def doctor() -> None:
    """Check configuration, embedding model, store and index; each line says OK or the exact problem."""
    from ragbot.doctor import failed, render_check, run_checks

    settings = _settings()
    checks = run_checks(settings)
    for check in checks:
        print(render_check(check))
    if failed(checks):
        raise typer.Exit(1)


DEFAULT_EVAL_FILES = [Path("eval/dev.yaml"), Path("eval/heldout.yaml")]


@app.command("eval")
def eval_(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Question files (YAML); the last is the held-out part --check gates on."),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Passages retrieved per question.")] = 5,
    scripted: Annotated[bool, typer.Option("--scripted", help="Use the deterministic local model.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if the held-out part misses a threshold.")] = False,
    min_recall: Annotated[float | None, typer.Option(help="Threshold for recall@k (default: the gate's).")] = None,
    min_refusal: Annotated[float | None, typer.Option(help="Threshold for out-of-scope refusals.")] = None,
) -> None:
    """Run the dev and held-out questions side by side: recall@1/@k, MRR, conflicts, refusals, facts (95% CIs)."""
    from rag.eval_compare import HELDOUT_GATE, check_gate, evaluate_files, evaluation_json, render_evaluation
    from rag.evaluation import load_golden
    from rag.llm.scripted import ScriptedChatModel

    settings = _settings()
    questions = _guard(lambda: {p.stem: load_golden(p) for p in files or DEFAULT_EVAL_FILES})  # before indexing
    chat = ScriptedChatModel() if scripted else None
    evaluation = _guard(lambda: asyncio.run(_with_service(settings, lambda s: evaluate_files(s, questions, k=k), chat)))
    if as_json:
        print(json.dumps(evaluation_json(evaluation), ensure_ascii=False))
    else:
        out.print(render_evaluation(evaluation), markup=False)
    if check:
        failed = check_gate(*evaluation.gated, HELDOUT_GATE.overridden(recall=min_recall, refusal=min_refusal))
        for line in failed:
            err.print(f"[red]below threshold:[/] {line}")
        if failed:
            raise typer.Exit(1)


faq_app = typer.Typer(
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Moderator-approved FAQ answers: backup and moving between servers.",
)
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
    err.print(f"exported {plural(len(entries), 'FAQ entry', 'FAQ entries')} to {output}")


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
    err.print(
        f"imported {plural(added, 'FAQ entry', 'FAQ entries')} into guild {guild} (entries it already had were skipped)"
    )


@app.command()
def stats(
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="The period, ending now.")] = 7,
    guild: Annotated[int | None, typer.Option("--guild", help="One server (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Questions, refusals, ungrounded answers, votes and latency; the questions the corpus fails."""
    import datetime as dt

    from rag.budget import day_start, spend_text

    settings = _settings()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)

    async def read(db: Database) -> tuple[Any, int]:
        return await db.stats(guild, since), await db.tokens_since(guild, day_start())

    report, today = _guard(lambda: asyncio.run(_with_db(settings, read)))
    budget = settings.llm.daily_tokens_per_guild
    if as_json:
        spend = {"tokens_today": today, "daily_tokens_per_guild": budget}
        print(json.dumps(asdict(report) | {"days": days} | spend, ensure_ascii=False, default=str))
        return
    # The budget is per server: against all servers together only the total means something.
    spent = spend_text(today, budget) if guild is not None else f"{today:,} tokens in all servers"
    out.print(render_stats(report, days, spend=spent), markup=False)


@app.command()
def run() -> None:
    """Start the Discord bot (stops cleanly on Ctrl-C or SIGTERM)."""
    settings = _settings()

    def start() -> None:
        from ragbot.runner import run_bot  # the Discord layer loads only for this command

        asyncio.run(run_bot(settings))

    _guard(start)


def _show_version(value: bool) -> None:
    if value:
        from ragbot.startup import version

        print(f"ragbot {version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """ragbot: answers questions about AI policy from a curated corpus, citing its passages."""


def main() -> None:
    app()
