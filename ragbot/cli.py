"""The `ragbot` command. The entry point: builds Settings, wires the service, renders results."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rag.observe import current_answer_id
from rag.text import clean_text
from ragbot.console import Failure, err, guard, load_cli_settings, out
from ragbot.moderation import faq_app, stats
from ragbot.sources_cli import sources_app
from ragbot.startup import plural
from ragbot.terminal import answer_json, render_answer, search_json

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.ingest import IngestReport, ProgressHook
    from rag.llm import ChatModel
    from rag.service import RagService
    from rag.types import Answer
    from rag.web_sources import SourceChange

T = TypeVar("T")

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,  # click's plain help: flags read `--json`, not `--json <bool>`
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="ragbot: answers questions about AI policy from a curated corpus, citing its passages.",
)


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


def _check_question(question: str, settings: Settings) -> None:
    """An empty or too long question is refused at once, before the index is opened or a first ingest runs."""
    from rag.service import validate_question

    guard(lambda: validate_question(question, settings.retrieval.max_question_chars))


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
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files or folders (default: the corpus folder), or web addresses (https://...) to add as sources.",
            metavar="[PATHS_OR_URLS]...",
        ),
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the index and build it again.")] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Download the URL sources again where their servers say they changed.")
    ] = False,
) -> None:
    """Index the corpus: new and changed files are embedded, deleted ones removed. Web addresses are downloaded
    and indexed as sources cited with their address."""
    from ragbot.sources_cli import apply_urls, is_url_argument, print_changes
    from ragbot.wiring import open_service

    settings = load_cli_settings()
    urls = [t for t in targets or [] if is_url_argument(t)]
    paths = [Path(t) for t in targets or [] if not is_url_argument(t)]
    scan = bool(paths) or rebuild or not (urls or refresh)  # only URLs: the corpus is not scanned again

    async def run() -> tuple[IngestReport | None, list[SourceChange]]:
        async with open_service(settings) as service:
            report = None
            if scan:
                with _progress() as hook:
                    report = await asyncio.to_thread(service.ingest_sync, paths or None, rebuild=rebuild, progress=hook)
            else:
                await _prepare(service)  # a first run indexes the corpus before the pages: it stays the default
            return report, await apply_urls(service, urls, refresh=refresh)

    report, changes = guard(lambda: asyncio.run(run()))
    if report is not None:
        _print_report(report)
    if urls or refresh:
        print_changes(changes)
    if (report is not None and report.failed) or not all(c.ok for c in changes):
        raise typer.Exit(1)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="How many passages.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array on stdout.")] = False,
) -> None:
    """Show the passages that best match QUERY.

    The score fuses the semantic and the keyword ranking (reciprocal rank fusion): higher ranks better; it is not
    a percentage. "similarity" is the passage's cosine similarity to the query (semantic search only)."""
    settings = load_cli_settings()
    _check_question(query, settings)
    result = guard(lambda: asyncio.run(_with_service(settings, lambda service: service.search(query, k))))
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
    settings = load_cli_settings()
    live = not as_json and out.is_terminal
    try:
        _check_question(question, settings)
        answer = guard(lambda: asyncio.run(_with_service(settings, lambda service: _ask(service, question, live=live))))
    except Failure as failure:
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

    settings = load_cli_settings()
    guard(lambda: chat_command(lambda: open_service(settings), _prepare, out))


@app.command()
def doctor() -> None:
    """Check configuration, embedding model, store and index; each line says OK or the exact problem."""
    from ragbot.doctor import failed, render_check, run_checks

    settings = load_cli_settings()
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
    from rag.golden import load_golden
    from rag.llm.scripted import ScriptedChatModel

    settings = load_cli_settings()
    questions = guard(lambda: {p.stem: load_golden(p) for p in files or DEFAULT_EVAL_FILES})  # before indexing
    chat = ScriptedChatModel() if scripted else None
    evaluation = guard(lambda: asyncio.run(_with_service(settings, lambda s: evaluate_files(s, questions, k=k), chat)))
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


app.add_typer(faq_app, name="faq")
app.add_typer(sources_app, name="sources")
app.command()(stats)


@app.command()
def run() -> None:
    """Start the Discord bot (stops cleanly on Ctrl-C or SIGTERM)."""
    settings = load_cli_settings()

    def start() -> None:
        from ragbot.runner import run_bot  # the Discord layer loads only for this command

        asyncio.run(run_bot(settings))

    guard(start)


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
