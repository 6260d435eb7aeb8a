"""The forum help desk: new posts in the configured forum channels are answered in the post, without a mention.

A post is left to settle for `forum_delay` seconds, so its title, opening message and the poster's quick additions
are read as one question. The answer carries "✅ Solved" and "🙋 Ask a human" for the poster. The bot then answers
the poster's follow-ups in the post, until the post is tagged Solved or Needs human, or a helper or moderator
writes in it: from then on the conversation belongs to the people."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.delivery import NO_MENTIONS, Asker
from bot.events import REVIEW_SIGNAL, ReviewSignal
from bot.forum_buttons import ForumTarget
from bot.forum_rendering import (
    ALREADY_ASKED,
    ONLY_POSTER_HUMAN,
    ONLY_POSTER_SOLVED,
    SOLVED_THANKS,
    cap_note,
    human_request,
)
from bot.forum_rules import DailyCap, closes_post, find_tag, post_question
from bot.history import thread_history, without_mentions
from bot.recording import recorded_answer

if TYPE_CHECKING:
    from bot.client import RagBot
    from bot.cogs.ask import AskCog
    from rag.prompting import Turn

log = logging.getLogger(__name__)
_OPENING_MESSAGES = 20  # a post's first messages read for its question (the poster's quick additions among them)


class ForumCog(commands.Cog):
    def __init__(self, bot: RagBot) -> None:
        self.bot = bot
        self.config = bot.config
        self.cap = DailyCap(bot.config.forum_daily_cap)
        self.settling: dict[int, asyncio.Task[None]] = {}  # post id -> its first answer, waiting for the delay
        self.handed_over: set[int] = set()  # posts the people took over (solved, human asked, helper replied)
        self.read_back: set[int] = set()  # posts whose earlier replies were read since this process started
        self.asked: set[int] = set()  # posts whose poster asked for a human
        self._reported: set[tuple[int, str]] = set()  # (forum id, problem): each is logged once

    # ---- where the desk works --------------------------------------------------------------------
    def is_desk_post(self, channel: object) -> bool:
        return isinstance(channel, discord.Thread) and channel.parent_id in self.config.forum_channels

    def _closed(self, post: discord.Thread) -> bool:
        if post.id in self.handed_over:
            return True
        return closes_post(post.applied_tags, (self.config.solved_tag, self.config.needs_human_tag))

    def _from_helper(self, message: discord.Message) -> bool:
        return isinstance(message.channel, discord.Thread) and self._is_helper(message.author, message.channel)

    def _is_helper(self, author: discord.abc.User, post: discord.Thread) -> bool:
        """A member of the helper role, a configured moderator role, or with Manage Messages in the forum."""
        if not isinstance(author, discord.Member):
            return False
        held = {role.id for role in author.roles}
        if self.config.helper_role in held or held & set(self.config.moderator_role_ids):
            return True
        permissions = post.permissions_for(author)
        return permissions.manage_messages or permissions.administrator

    async def _helper_replied_before(self, post: discord.Thread, message: discord.Message) -> bool:
        """Whether a helper replied in the post before this process started: what it saw live is in
        `handed_over`, so the post's earlier replies are read once per process, at its first follow-up there.
        Messages read back carry users, not members: their authors are looked up as members."""
        if post.id in self.read_back:
            return False
        self.read_back.add(post.id)
        try:
            recent = [m async for m in post.history(limit=self.config.history_messages, before=message)]
            others = {m.author.id for m in recent if m.author.id != post.owner_id and not m.author.bot}
            for user_id in others:
                member = post.guild.get_member(user_id) or await post.guild.fetch_member(user_id)
                if self._is_helper(member, post):
                    self.handed_over.add(post.id)
                    return True
        except discord.HTTPException as exc:  # unreadable: answer, as the desk would have before
            log.warning("could not read the replies in forum post %s: %s", post.id, exc)
        return False

    # ---- a new post ------------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_thread_create(self, post: discord.Thread) -> None:
        bot_user = self.bot.user
        if bot_user is None or not self.is_desk_post(post) or post.owner_id == bot_user.id:
            return
        if post.id in self.settling:
            return
        task = asyncio.create_task(self._answer_post(post), name=f"forum-post-{post.id}")
        self.settling[post.id] = task
        task.add_done_callback(lambda _: self.settling.pop(post.id, None))

    async def _answer_post(self, post: discord.Thread) -> None:
        try:
            await asyncio.sleep(self.config.forum_delay)
            opening = await self._opening(post)
            self.settling.pop(post.id, None)  # from here on the poster's messages are follow-ups
            if not opening or self._closed(post):
                return
            limit = self.bot.service.retrieval.max_question_chars
            question = post_question(post.name, [m.content for m in opening], limit)
            await self._answer(post, question, [], opening[-1], opening[0].author.id)
        except Exception:  # a background task: nobody else would see the error
            log.exception("answering forum post %s failed", post.id)

    async def _opening(self, post: discord.Thread) -> list[discord.Message]:
        """The poster's messages so far, oldest first: the opening message and what they added meanwhile."""
        try:
            messages = [m async for m in post.history(limit=_OPENING_MESSAGES, oldest_first=True)]
        except discord.HTTPException as exc:
            log.warning("could not read forum post %s: %s", post.id, exc)
            return []
        return [m for m in messages if m.author.id == post.owner_id and m.content.strip()]

    # ---- messages in a post ----------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        post = message.channel
        bot_user = self.bot.user
        if bot_user is None or message.author.bot or not isinstance(post, discord.Thread):
            return
        if not self.is_desk_post(post) or message.id == post.id:  # the opening: its post's THREAD_CREATE has it
            return
        if message.author.id != post.owner_id:
            if self._from_helper(message):
                self.handed_over.add(post.id)
            return
        if post.id in self.settling or self._closed(post) or await self._helper_replied_before(post, message):
            return
        question = without_mentions(message.content)
        history = await thread_history(message, bot_user.id, self.config.history_messages)
        await self._answer(post, question, history, message, message.author.id)

    async def _answer(
        self, post: discord.Thread, question: str, history: list[Turn], reply_to: discord.Message, user_id: int
    ) -> None:
        """The shared answer path (the ask cog's), or the note that today's cap is reached."""
        if not question:
            return
        if not self.cap.take(user_id):
            if self.cap.first_refusal(user_id):
                await reply_to.reply(cap_note(self.cap.cap), mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        ask: AskCog | None = self.bot.get_cog("AskCog")  # type: ignore[assignment]
        assert ask is not None, "the ask cog is loaded with the forum desk"
        asker = Asker(user_id, post.guild.id, post.id, "forum")
        await ask.answer(question, history, ForumTarget(post, reply_to), asker)

    # ---- the buttons -----------------------------------------------------------------------------
    async def _own_post(self, interaction: discord.Interaction, refusal: str) -> discord.Thread | None:
        post = interaction.channel
        if not isinstance(post, discord.Thread) or post.owner_id != interaction.user.id:
            await interaction.response.send_message(refusal, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return None
        return post

    async def mark_solved(self, interaction: discord.Interaction) -> None:
        post = await self._own_post(interaction, ONLY_POSTER_SOLVED)
        if post is None:
            return
        self.handed_over.add(post.id)
        await interaction.response.send_message(SOLVED_THANKS, allowed_mentions=NO_MENTIONS)
        await self._tag(post, self.config.solved_tag)

    async def ask_human(self, interaction: discord.Interaction, answer_id: str) -> None:
        post = await self._own_post(interaction, ONLY_POSTER_HUMAN)
        if post is None:
            return
        if post.id in self.asked or closes_post(post.applied_tags, (self.config.needs_human_tag,)):
            await interaction.response.send_message(ALREADY_ASKED, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        self.asked.add(post.id)
        self.handed_over.add(post.id)
        role = self.config.helper_role
        # The one message in which the bot pings anyone: the helper role, named alone; never users or @everyone.
        pings = NO_MENTIONS
        if role is not None:
            pings = discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(role)])
        await interaction.response.send_message(human_request(role, post.name), allowed_mentions=pings)
        await self._tag(post, self.config.needs_human_tag)
        self.bot.dispatch(REVIEW_SIGNAL, await self._human_signal(interaction, post, answer_id))

    async def _human_signal(
        self, interaction: discord.Interaction, post: discord.Thread, answer_id: str
    ) -> ReviewSignal:
        stored = await recorded_answer(self.bot.db, answer_id, post.guild.id)
        closest: tuple[str, ...] = ()
        if stored is not None:
            named = (f"{c.title} ({c.url})" if c.url else c.title for c in stored.citations)
            closest = tuple(dict.fromkeys(named))
        return ReviewSignal(
            kind="human",
            guild_id=post.guild.id,
            channel_id=post.id,
            message_id=interaction.message.id if interaction.message is not None else None,
            question=stored.question if stored is not None else post.name,
            asker_id=interaction.user.id,
            answer_id=answer_id if stored is not None else None,
            closest=closest,
        )

    # ---- tags ------------------------------------------------------------------------------------
    async def _tag(self, post: discord.Thread, name: str) -> None:
        """Apply a forum tag by name. A missing tag or a missing permission never stops the desk: it is logged,
        once per forum, for the server's admins to fix."""
        forum = post.parent
        if not isinstance(forum, discord.ForumChannel):
            return
        tag = find_tag(forum.available_tags, name)
        if tag is None:
            self._report_once(forum, f"has no tag named {name!r}, so posts cannot be marked with it")
            return
        if any(t.id == tag.id for t in post.applied_tags):
            return
        try:
            await post.add_tags(tag, reason="ragbot forum help desk")
        except discord.Forbidden:
            self._report_once(forum, "does not let the bot tag posts: give it the Manage Threads permission there")
        except discord.HTTPException as exc:  # e.g. the post already has Discord's maximum of five tags
            log.warning("could not tag forum post %s with %r: %s", post.id, name, exc)

    def _report_once(self, forum: discord.ForumChannel, problem: str) -> None:
        if (forum.id, problem) in self._reported:
            return
        self._reported.add((forum.id, problem))
        log.warning("forum #%s (%s) %s", forum.name, forum.id, problem)
