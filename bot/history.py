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
    """The thread's messages before this one, oldest first; the thread's starter (the bot's answer) and the
    question it answered come first when they still fit."""
    thread = message.channel
    assert isinstance(thread, discord.Thread)
    recent = [m async for m in thread.history(limit=limit, before=message)]
    turns = [t for m in reversed(recent) if (t := turn_of(m, bot_id)) is not None]
    if len(turns) < limit and thread.parent is not None:
        try:
            starter = await thread.parent.fetch_message(thread.id)  # type: ignore[union-attr]  # text-channel threads only (see ask.py)
        except discord.HTTPException:
            return turns[-limit:]
        opening = [*(await reply_chain(starter, bot_id, 1)), *filter(None, [turn_of(starter, bot_id)])]
        turns = opening + turns
    return turns[-limit:] if limit else []


async def is_reply_to_bot(message: discord.Message, bot_id: int) -> bool:
    parent = await _referenced(message)
    return parent is not None and parent.author.id == bot_id
