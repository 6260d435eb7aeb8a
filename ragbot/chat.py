"""`ragbot chat`: a conversation in the terminal, with follow-ups answered the way the bot answers them in a
thread (the same history, the same query rewriting: `RagService.ask(question, history)`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rag.prompting import Turn
from ragbot.terminal import CURATED, primary_source_lines, render_answer

if TYPE_CHECKING:
    from rich.console import Console

    from rag.service import RagService
    from rag.types import Answer

log = logging.getLogger(__name__)

PROMPT = "you> "
HELP = (
    "Ask about the sources; follow-up questions build on earlier ones."
    " /sources: the last answer's sources in full; /quit: leave."
)
HISTORY_MESSAGES = 10  # earlier messages kept, as the bot keeps a thread's last ten; the prompt trims by tokens


@dataclass
class Conversation:
    """What the session remembers: the turns so far and the last answer (for /sources)."""

    turns: list[Turn] = field(default_factory=list)
    last: Answer | None = None

    def record(self, question: str, answer: Answer) -> None:
        self.turns += [Turn("user", question), Turn("assistant", answer.text)]
        # The opening exchange stays, as in a thread opened on an answer: it says what "it" and "he" refer to.
        self.turns[2:] = self.turns[2:][-(HISTORY_MESSAGES - 2) :]
        self.last = answer


def render_sources(answer: Answer | None) -> str:
    """The last answer's citations in full: title, publisher and date, link, section, the quoted passage."""
    if answer is None:
        return "No answer yet: ask a question first."
    if not answer.citations:
        return "The last answer cites no sources."
    lines: list[str] = []
    for c in answer.citations:
        meta = ", ".join(x for x in (CURATED if c.curated else "", c.publisher, c.published) if x)
        lines.append(f"[{c.n}] {c.title}" + (f" ({meta})" if meta else ""))
        lines += [f"    {c.url}"] if c.url else []
        lines += [f"    section: {c.section}"] if c.section else []
        lines += [f'    "{c.quote}"'] if c.quote else []
        lines += primary_source_lines(c)
    return "\n".join(lines)


async def answer_live(service: RagService, question: str, history: list[Turn], console: Console) -> Answer:
    """Stream the answer into the terminal (a spinner while searching or reasoning, then the text as it comes);
    the final rendering, citations renumbered and checked, replaces the draft."""
    from rich.live import Live
    from rich.spinner import Spinner
    from rich.text import Text

    stream = service.ask(question, history)
    with Live(Spinner("dots", text="searching…"), console=console, transient=True, refresh_per_second=10) as view:
        async for _ in stream:
            view.update(Text(stream.draft) if stream.draft else Spinner("dots", text="thinking…"))
    return await stream


def run_chat(runner: asyncio.Runner, service: RagService, console: Console, read: Callable[[str], str] = input) -> None:
    """The session: read a line, answer it, until /quit, end of input or Ctrl-C. Lines are read in the main
    thread between answers so that Ctrl-C always reaches the session. Failures of one question (a model that is
    down, a question too long) are shown and the session goes on."""
    from rag.errors import RagError, UserFacingError

    conversation = Conversation()
    console.print(HELP, markup=False, highlight=False)
    while True:
        try:
            line = read(PROMPT).strip()
        except (EOFError, KeyboardInterrupt):
            console.print("", markup=False)
            return
        if line in ("/quit", "/exit"):
            return
        if line in ("/help", "?"):
            console.print(HELP, markup=False, highlight=False)
        elif line == "/sources":
            console.print(render_sources(conversation.last), markup=False, highlight=False)
        elif line.startswith("/"):
            console.print(f"unknown command {line}. {HELP}", markup=False, highlight=False)
        elif line:
            try:
                answer = runner.run(answer_live(service, line, conversation.turns, console))
            except KeyboardInterrupt:
                console.print("(answer interrupted)", markup=False)
                continue
            except (UserFacingError, RagError) as exc:
                console.print(f"error: {exc}", markup=False, highlight=False)
                continue
            console.print(render_answer(answer) + "\n", markup=False, highlight=False)
            conversation.record(line, answer)


def chat_command(
    open_service: Callable[[], contextlib.AbstractAsyncContextManager[RagService]],
    prepare: Callable[[RagService], Coroutine[Any, Any, None]],
    console: Console,
) -> None:
    """Open (and prepare) the service once for the whole session; close it at the end, whatever ends it."""
    with asyncio.Runner() as runner:
        opened = open_service()
        service = runner.run(opened.__aenter__())
        try:
            runner.run(prepare(service))
            run_chat(runner, service, console)
        finally:
            runner.run(opened.__aexit__(None, None, None))
