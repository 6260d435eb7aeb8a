"""Delivering an answer into Discord: a placeholder, throttled streaming edits, the final rendering.

Two targets share one flow: a slash-command interaction (edit the deferred response; its token lives 15 minutes)
and a channel message (a reply that is edited)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.events import ReviewSignal
from bot.recording import record_in_background, settle_recordings
from bot.rendering import SEARCHING, draft_text, render_answer
from bot.review_rendering import source_link
from bot.views import answer_view
from rag.errors import BackendError, UserFacingError
from rag.observe import NULL_OBSERVER, Entry, Observer, Outcome, current_answer_id, outcome_of

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from curation.db import Database
    from rag.prompting import Turn
    from rag.response import AnswerStream
    from rag.service import RagService
    from rag.types import Answer

log = logging.getLogger(__name__)
NO_MENTIONS = discord.AllowedMentions.none()
BACKEND_DOWN = "The language model isn't available right now. Please try again in a few minutes."
UNEXPECTED = "Something went wrong while answering. The error has been logged for the maintainers."
CUT_SHORT = "⚠️ *The bot restarted while answering, so this answer was cut short. Please ask again.*"
_TOKEN_LIFETIME = 15 * 60 - 30  # an interaction token lasts 15 minutes; keep a margin


class Target(Protocol):
    async def show(self, content: str) -> None:
        """Replace the visible draft."""
        ...

    async def finish(self, pieces: tuple[str, ...], embed: discord.Embed | None, view: discord.ui.View) -> None:
        """Show the final answer: the first piece replaces the draft; sources and buttons go on the last."""
        ...

    async def fail(self, message: str) -> None:
        """Tell the asker something went wrong (privately where Discord allows it)."""
        ...


class MessageTarget:
    """An answer given as a reply message, edited in place; extra pieces follow in the same channel."""

    def __init__(self, channel: discord.abc.Messageable, reply_to: discord.Message | discord.MessageReference) -> None:
        self.channel = channel
        self.reply_to = reply_to
        self.message: discord.Message | None = None
        self.last: discord.Message | None = None

    @property
    def message_id(self) -> int | None:
        """The message holding the end of the answer (its buttons), to link to."""
        shown = self.last or self.message
        return shown.id if shown is not None else None

    async def show(self, content: str) -> None:
        if self.message is None:
            self.message = await self.channel.send(
                content, reference=self.reply_to, mention_author=False, allowed_mentions=NO_MENTIONS
            )
        else:
            await self.message.edit(content=content, allowed_mentions=NO_MENTIONS)

    async def finish(self, pieces: tuple[str, ...], embed: discord.Embed | None, view: discord.ui.View) -> None:
        single = len(pieces) == 1
        first: dict[str, Any]  # keyword arguments for send() and edit(), whose overloads a narrower type misses
        first = {"content": pieces[0], "embed": embed if single else None, "allowed_mentions": NO_MENTIONS}
        if single and view is not None:
            first["view"] = view
        if self.message is None:
            self.message = await self.channel.send(reference=self.reply_to, mention_author=False, **first)
        else:
            await self.message.edit(**first)
        self.last = self.message
        for i, piece in enumerate(pieces[1:], 2):
            extra: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
            if i == len(pieces):
                extra |= {"embed": embed, "view": view} if view is not None else {"embed": embed}
            self.last = await self.channel.send(piece, **extra)

    async def fail(self, message: str) -> None:
        await self.show(f"⚠️ {message}")


class InteractionTarget:
    """A deferred slash command. Past the token's lifetime, or if an edit is refused, the answer continues as
    a channel message so a long answer is never lost."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.started = time.monotonic()
        self.fallback: MessageTarget | None = None
        self._message_id: int | None = None

    @property
    def message_id(self) -> int | None:
        return self.fallback.message_id if self.fallback is not None else self._message_id

    def _expired(self) -> bool:
        return time.monotonic() - self.started > _TOKEN_LIFETIME

    async def _channel_target(self) -> MessageTarget:
        if self.fallback is None:
            channel = self.interaction.channel
            assert isinstance(channel, discord.abc.Messageable)
            placeholder = await channel.send(SEARCHING, allowed_mentions=NO_MENTIONS)
            self.fallback = MessageTarget(channel, placeholder)
            self.fallback.message = placeholder
        return self.fallback

    async def _edit(self, **fields: object) -> bool:
        if self.fallback is None and not self._expired():
            try:
                shown = await self.interaction.edit_original_response(allowed_mentions=NO_MENTIONS, **fields)  # type: ignore[arg-type]
                self._message_id = shown.id
                return True
            except discord.HTTPException as exc:
                if exc.status not in (401, 404):
                    raise
                log.info("interaction token no longer valid (%s); continuing in the channel", exc.status)
        return False

    async def show(self, content: str) -> None:
        if not await self._edit(content=content):
            await (await self._channel_target()).show(content)

    async def finish(self, pieces: tuple[str, ...], embed: discord.Embed | None, view: discord.ui.View) -> None:
        single = len(pieces) == 1
        if await self._edit(content=pieces[0], embed=embed if single else None, view=view if single else None):
            for i, piece in enumerate(pieces[1:], 2):
                final = i == len(pieces)
                await self.interaction.followup.send(
                    piece,
                    embed=embed if final else discord.utils.MISSING,  # type: ignore[arg-type]  # None: no embed
                    view=view if final else discord.utils.MISSING,
                    allowed_mentions=NO_MENTIONS,
                )
            return
        await (await self._channel_target()).finish(pieces, embed, view)

    async def fail(self, message: str) -> None:
        if self.fallback is None and not self._expired():
            try:
                await self.interaction.delete_original_response()
                await self.interaction.followup.send(f"⚠️ {message}", ephemeral=True, allowed_mentions=NO_MENTIONS)
                return
            except discord.HTTPException:
                log.info("could not answer the interaction privately; telling the channel")
        await (await self._channel_target()).fail(message)


class Throttle:
    """Edits at most once per `interval` seconds; the last draft always waits its turn rather than being lost.
    The clock starts when the placeholder appears, so an answer that streams in under `interval` goes straight
    to its final form: one edit, no draft, no wait."""

    def __init__(self, target: Target, interval: float) -> None:
        self.target = target
        self.interval = interval
        self._last = time.monotonic()
        self._shown = ""

    async def offer(self, content: str) -> None:
        if content != self._shown and time.monotonic() - self._last >= self.interval:
            await self._send(content)

    async def wait_turn(self) -> None:
        if not self._shown:
            return  # nothing was edited yet: the final form may go out at once
        delay = self.interval - (time.monotonic() - self._last)
        if delay > 0:
            await asyncio.sleep(delay)

    async def _send(self, content: str) -> None:
        self._shown = content
        await self.target.show(content)
        self._last = time.monotonic()

    def mark(self) -> None:
        self._last = time.monotonic()


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asked, where: the answer log and the FAQ lookup need it."""

    user_id: int
    guild_id: int | None
    channel_id: int | None
    entry: Entry = "slash"  # how the question arrived, for the metrics


async def deliver(
    *,
    service: RagService,
    question: str,
    history: list[Turn],
    target: Target,
    db: Database,
    asker: Asker,
    interval: float,
    observer: Observer = NULL_OBSERVER,
    notify: Callable[[ReviewSignal], None] | None = None,
) -> Answer | None:
    """Stream one answer into `target` (a refusal is also told to `notify`, the review queue's signal). Every
    failure ends as a short message to the asker, never a traceback."""
    throttle = Throttle(target, interval)
    started = time.monotonic()
    answer_id = secrets.token_hex(6)  # chosen first: every log line of this question carries it
    in_answer = current_answer_id.set(answer_id)
    outcome: Outcome = "error"
    try:
        await settle_recordings()  # the budget check below counts the answers already shown
        stream = service.ask(question, history, guild_id=asker.guild_id)
        await _stream(stream, throttle, observer, started)
        answer = await stream
        log_write = _log(db, answer_id, question, answer, asker, _ms_since(started))
        await _show_and_record(answer, answer_id, log_write, target, throttle)
        _report_refusal(notify, answer, answer_id, question, asker, target)
        outcome = outcome_of(answer)
        return answer
    except asyncio.CancelledError:
        await _tell_cut(target)
        raise
    except Exception as exc:
        await _tell_failure(target, question, exc)
    finally:
        observer.question(outcome, asker.entry, time.monotonic() - started)
        current_answer_id.reset(in_answer)
    return None


async def _tell_failure(target: Target, question: str, exc: Exception) -> None:
    """The one short message an asker gets when answering failed, and the log line behind it."""
    if isinstance(exc, UserFacingError):
        await target.fail(str(exc))
    elif isinstance(exc, BackendError):
        log.error("model backend failed for %r: %s", question[:80], exc)
        await target.fail(BACKEND_DOWN)
    else:
        log.error("answering %r failed", question[:80], exc_info=exc)
        await target.fail(UNEXPECTED)


async def _show_and_record(
    answer: Answer, answer_id: str, log_write: Coroutine[Any, Any, None], target: Target, throttle: Throttle
) -> None:
    """The final rendering, with the answer log written meanwhile. The log is written while the answer is
    delivered, never before it: a storage failure must not cost the asker an answer they already waited for,
    and the row is there by the time a button is pressed."""
    recording = record_in_background(answer_id, log_write)
    rendered = render_answer(answer)
    await throttle.wait_turn()
    await target.finish(rendered.messages, rendered.embed, answer_view(answer_id, answer))
    throttle.mark()
    await recording


async def _stream(stream: AnswerStream, throttle: Throttle, observer: Observer, started: float) -> None:
    """The live draft into the target; the time the first words appeared goes to the metrics."""
    first = True
    async for _ in stream:
        if first and stream.draft:
            first = False
            observer.first_token(time.monotonic() - started)
        await throttle.offer(draft_text(stream.draft))  # "thinking…" until the first words arrive


def _report_refusal(
    notify: Callable[[ReviewSignal], None] | None,
    answer: Answer,
    answer_id: str,
    question: str,
    asker: Asker,
    target: Target,
) -> None:
    """A refused question in a server is a gap in the corpus: the review queue hears of it."""
    if notify is None or not answer.refused or asker.guild_id is None or asker.channel_id is None:
        return
    signal = ReviewSignal(
        kind="refused",
        guild_id=asker.guild_id,
        channel_id=asker.channel_id,
        message_id=target.message_id if isinstance(target, MessageTarget | InteractionTarget) else None,
        question=question,
        asker_id=asker.user_id,
        answer_id=answer_id,
        closest=tuple(source_link(s.title, s.url) for s in answer.closest),
    )
    notify(signal)


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


async def _log(db: Database, answer_id: str, question: str, answer: Answer, asker: Asker, latency_ms: int) -> None:
    """Record the answer as given. A failure is logged, not raised: the answer is on screen already."""
    try:
        await db.log_answer(
            answer_id,
            question,
            answer,
            guild_id=asker.guild_id,
            channel_id=asker.channel_id,
            user_id=asker.user_id,
            latency_ms=latency_ms,
            faq_id=answer.faq_id,
        )
    except Exception:
        log.exception("answer %s was shown but could not be recorded", answer_id)


async def _tell_cut(target: Target) -> None:
    try:
        await asyncio.wait_for(target.show(CUT_SHORT), timeout=5)
    except Exception:  # shutting down: nothing more can be done for this one
        log.info("could not mark an interrupted answer")
