"""Asking: /ask, an @mention, a reply to one of the bot's answers, or a message in a thread the bot opened."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery import NO_MENTIONS, Asker, InteractionTarget, MessageTarget, Target, deliver
from bot.events import REVIEW_SIGNAL
from bot.history import is_reply_to_bot, question_text, reply_chain, thread_history
from bot.limits import QueueFull
from bot.rendering import SEARCHING

if TYPE_CHECKING:
    from bot.client import RagBot
    from rag.observe import Entry
    from rag.prompting import Turn

log = logging.getLogger(__name__)
BUSY = "I'm answering a lot of questions right now. Please ask again in a minute."


def _slow_down(seconds: float) -> str:
    return f"You're asking quickly: please wait {max(1, round(seconds))} s before your next question."


def _thread_name(question: str) -> str:
    name = " ".join(question.split())
    return name if len(name) <= 90 else name[:89].rstrip() + "…"


class AskCog(commands.Cog):
    def __init__(self, bot: RagBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Ask a question about AI policy; the answer cites its sources.")
    @app_commands.describe(question="Your question, e.g. Why did Nvidia's stock fall in January 2025?")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        wait = self.bot.cooldown.try_take(interaction.user.id)
        if wait:
            await interaction.response.send_message(_slow_down(wait), ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(thinking=True)  # Discord allows 3 s before the first response
        asker = Asker(interaction.user.id, interaction.guild_id, interaction.channel_id)
        await self.answer(question, [], InteractionTarget(interaction), asker)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        bot_user = self.bot.user
        if bot_user is None or message.author.bot or not self._allowed_place(message.channel):
            return
        if getattr(message.channel, "parent_id", None) in self.bot.config.forum_channels:
            return  # a post in a help-desk forum: the forum cog answers there
        in_own_thread = isinstance(message.channel, discord.Thread) and message.channel.owner_id == bot_user.id
        mentioned = bot_user in message.mentions
        replied = message.reference is not None and await is_reply_to_bot(message, bot_user.id)
        if not (mentioned or replied or in_own_thread):
            return
        question = question_text(message, bot_user.id)
        if not question:
            return
        wait = self.bot.cooldown.try_take(message.author.id)
        if wait:
            await message.reply(_slow_down(wait), mention_author=False, allowed_mentions=NO_MENTIONS, delete_after=15)
            return
        self.bot.in_flight.add(asyncio.current_task())  # type: ignore[arg-type]  # shutdown waits from here on
        history = await self._history(message, bot_user.id, in_own_thread, replied)
        target = MessageTarget(message.channel, message)
        entry: Entry = "thread" if in_own_thread else "reply" if replied else "mention"
        asker = Asker(message.author.id, message.guild.id if message.guild else None, message.channel.id, entry)
        answer = await self.answer(question, history, target, asker)
        if answer is not None and mentioned and not replied and not in_own_thread:
            await self._open_thread(target, question)

    def _allowed_place(self, channel: discord.abc.Messageable) -> bool:
        if isinstance(channel, discord.DMChannel | discord.GroupChannel):
            return self.bot.config.allow_dms
        allowed = self.bot.config.allowed_channels
        if not allowed:
            return True
        ids = {getattr(channel, "id", None), getattr(channel, "parent_id", None)}
        return any(i in allowed for i in ids if i is not None)

    async def _history(self, message: discord.Message, bot_id: int, in_thread: bool, replied: bool) -> list[Turn]:
        limit = self.bot.config.history_messages
        if in_thread:
            return await thread_history(message, bot_id, limit)
        if replied:
            return await reply_chain(message, bot_id, limit)
        return []

    async def answer(self, question: str, history: list[Turn], target: Target, asker: Asker) -> object:
        """The one answer path, within the answer slots; the forum desk answers through it too."""
        task = asyncio.current_task()
        assert task is not None
        self.bot.in_flight.add(task)  # first, so a shutdown from now on waits for this answer
        try:
            async with self.bot.slots.slot():
                if isinstance(target, MessageTarget):
                    await target.show(SEARCHING)
                return await deliver(
                    service=self.bot.service,
                    question=question,
                    history=history,
                    target=target,
                    db=self.bot.db,
                    asker=asker,
                    interval=self.bot.config.edit_interval,
                    observer=self.bot.observer,
                    notify=functools.partial(self.bot.dispatch, REVIEW_SIGNAL),
                )
        except QueueFull:
            self.bot.observer.question("busy", asker.entry, 0.0)
            await target.fail(BUSY)
            return None
        finally:
            self.bot.in_flight.discard(task)

    async def _open_thread(self, target: MessageTarget, question: str) -> None:
        if not self.bot.config.threads or target.message is None or isinstance(target.channel, discord.Thread):
            return
        if not isinstance(target.channel, discord.TextChannel):
            return
        try:
            await target.message.create_thread(name=_thread_name(question), auto_archive_duration=1440)
        except discord.HTTPException as exc:  # no permission, or threads disabled here: the answer stands
            log.info("could not open a thread for an answer: %s", exc)
