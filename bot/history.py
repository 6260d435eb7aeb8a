"""Conversation history from Discord: the reply chain above a message, or the recent messages of a thread."""

from __future__ import annotations

import logging
import re

import discord

from bot.rendering import EXTRACTIVE_LABEL, FAQ_LABEL, FLAGGED_LABEL, REFUSAL_LABEL, UNGROUNDED_LABEL
from rag.prompting import Turn

log = logging.getLogger(__name__)
_LABELS = (EXTRACTIVE_LABEL, UNGROUNDED_LABEL, FLAGGED_LABEL, REFUSAL_LABEL, FAQ_LABEL)


def question_text(message: discord.Message, bot_id: int) -> str:
    """The message without the bot's mention."""
    return re.sub(rf"<@!?{bot_id}>", "", message.content).strip()


def turn_of(message: discord.Message, bot_id: int) -> Turn | None:
    """A message as a conversation turn; the bot's answers lose their labels (the model never sees them)."""
    if message.author.id == bot_id:
        text = message.content
        for label in _LABELS:
            text = text.replace(label, "")
        text = re.sub(r"^\*.*\*$", "", text, flags=re.M).strip()  # italic notes and drafts
        return Turn("assistant", text) if text else None
    text = question_text(message, bot_id)
    return Turn("user", text) if text else None


async def _referenced(message: discord.Message) -> discord.Message | None:
    ref = message.reference
    if ref is None or ref.message_id is None:
        return None
    if isinstance(ref.resolved, discord.Message):
        return ref.resolved
    try:
        return await message.channel.fetch_message(ref.message_id)
    except discord.HTTPException:
        return None


async def reply_chain(message: discord.Message, bot_id: int, limit: int) -> list[Turn]:
    """The messages this one replies to, oldest first: the turns among the nearest `limit` of them. The walk
    counts every message it visits (each may cost a REST call), text or not: a chain of image-only replies
    must not turn one follow-up into a hundred requests."""
    turns: list[Turn] = []
    current = message
    for _ in range(limit):
        if (parent := await _referenced(current)) is None:
            break
        if (turn := turn_of(parent, bot_id)) is not None:
            turns.append(turn)
        current = parent
    return list(reversed(turns))


async def thread_history(message: discord.Message, bot_id: int, limit: int) -> list[Turn]:
    """The thread's messages before this one, oldest first. A thread the bot opened on its answer starts with
    the question that answer replied to and the answer itself (the thread's starter message, in the parent
    channel): however long the thread grows, the conversation keeps what it is about, then its newest turns."""
    thread = message.channel
    assert isinstance(thread, discord.Thread)
    if limit <= 0:
        return []
    recent = [m async for m in thread.history(limit=limit, before=message)]
    # A forum post's opening message is in the post itself (same id as the thread): it is the opening turn below.
    turns = [t for m in reversed(recent) if m.id != thread.id and (t := turn_of(m, bot_id)) is not None]
    opening = await thread_opening(thread, bot_id)
    if not opening:
        return turns[-limit:]
    room = max(limit - len(opening), 0)  # the opening stays even past the limit: it is what the thread is about
    return [*opening, *(turns[-room:] if room else [])]


async def thread_opening(thread: discord.Thread, bot_id: int) -> list[Turn]:
    """The question and the answer a thread was opened on: the starter message shares the thread's id, and
    the bot's answer references the question it replied to. Empty for a thread not opened on a message."""
    starter = await _starter(thread)
    if starter is None:
        return []
    if isinstance(thread.parent, discord.ForumChannel):  # a forum post: its title and opening message ask
        opening = turn_of(starter, bot_id)
        text = f"{thread.name}\n{opening.content}" if opening is not None else thread.name
        return [Turn("user", text)]
    answer = turn_of(starter, bot_id)
    question = await _referenced(starter) if starter.author.id == bot_id else None
    asked = turn_of(question, bot_id) if question is not None else None
    return [t for t in (asked, answer) if t is not None]


async def _starter(thread: discord.Thread) -> discord.Message | None:
    # Fetched, not taken from the cache: a cached copy may predate the answer's last edit.
    parent = thread.parent
    try:
        if isinstance(parent, discord.ForumChannel):  # a forum post opens with a message inside the post
            return await thread.fetch_message(thread.id)
        if not isinstance(parent, discord.TextChannel):  # the bot opens threads on answers in text channels only
            return None
        return await parent.fetch_message(thread.id)
    except discord.HTTPException:  # a thread not started from a message, or the starter was deleted
        return None


async def is_reply_to_bot(message: discord.Message, bot_id: int) -> bool:
    parent = await _referenced(message)
    return parent is not None and parent.author.id == bot_id
