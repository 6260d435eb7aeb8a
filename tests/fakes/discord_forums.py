"""Forum channels in the fake: posts (threads whose opening message shares their id), tags, and editing them.

Discord's documented behaviour, modelled here:
- A forum is channel type 15 with ``available_tags``; nothing can be sent in it directly (50008), only posts made.
- A post is a public thread (type 11) whose starter message has the thread's id and lives in the thread itself.
  Creating one (POST /channels/{forum}/threads with a ``message``) needs only SEND_MESSAGES, dispatches
  THREAD_CREATE then MESSAGE_CREATE, and returns the thread with the ``message`` nested.
- PATCH /channels/{thread} edits a thread: its creator may rename it, archive it and change its non-moderated
  tags; anything else, and any change to a moderated tag, needs MANAGE_THREADS (403, code 50013). THREAD_UPDATE
  follows. Other channels need MANAGE_CHANNELS to be edited (CHANNEL_UPDATE).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from fakes.discord_forum_payloads import (
    FORUM_CHANNEL,
    edit_needs_manage_threads,
    make_forum_channel,
    make_forum_tag,
    validate_applied_tags,
    validate_thread_edit,
)
from fakes.discord_http import ApiRequest, ApiResponse, fail, form_error
from fakes.discord_message_payloads import make_message, mentioned_ids
from fakes.discord_payloads import thread_member
from fakes.discord_protocol import (
    JSON,
    MANAGE_CHANNELS,
    MANAGE_THREADS,
    SEND_MESSAGES,
    THREAD_TYPES,
)
from fakes.discord_user_actions import UserActions
from fakes.discord_validation import FormErrors


class ForumActions(UserActions):
    """Forum channels, posts and tags: the world model, the bot's REST calls, and what members do."""

    # ---- world model -----------------------------------------------------------------------------
    def add_forum_channel(
        self, guild_id: int, name: str, tags: Iterable[str] = (), *, moderated: Iterable[str] = ()
    ) -> int:
        """A forum with these tags (``moderated``: the ones only MANAGE_THREADS may add or remove)."""
        guild = self._guilds[guild_id]
        channel_id = self._ids.next()
        locked = set(moderated)
        made = [make_forum_tag(self._ids.next(), t, moderated=t in locked) for t in tags]
        position = sum(1 for c in guild.channel_ids if self._channels[c]["type"] == FORUM_CHANNEL)
        self._channels[channel_id] = make_forum_channel(channel_id, guild_id, name, position=position, tags=made)
        self._channel_messages[channel_id] = []
        guild.channel_ids.append(channel_id)
        return channel_id

    def forum_tag_id(self, forum_id: int, name: str) -> int:
        for tag in self._channels[forum_id]["available_tags"]:
            if tag["name"] == name:
                return int(tag["id"])
        raise LookupError(f"forum {forum_id} has no tag {name!r}")

    def applied_tag_names(self, thread_id: int) -> list[str]:
        """The names of the tags on a post, as its forum lists them."""
        thread = self._channels[thread_id]
        names = {t["id"]: t["name"] for t in self._channels[int(thread["parent_id"])]["available_tags"]}
        return [names[t] for t in thread.get("applied_tags", [])]

    def _may_manage_threads(self, user_id: int, channel_id: int) -> bool:
        return bool(self.permissions_for(user_id, channel_id) & MANAGE_THREADS)

    def _forum_of(self, thread: JSON) -> JSON | None:
        parent = self._channels.get(int(thread["parent_id"])) if thread.get("parent_id") else None
        return parent if parent is not None and parent["type"] == FORUM_CHANNEL else None

    # ---- posts (either side) ---------------------------------------------------------------------
    def _new_post(self, forum_id: int, title: str, owner_id: int, tag_ids: list[str], starter: dict[str, Any]) -> JSON:
        """A post and its starter message (same id, inside the thread), stored but not yet dispatched."""
        forum = self._channels[forum_id]
        archive = forum["default_auto_archive_duration"]
        thread = self._new_thread(forum_id, title, owner_id, auto_archive_duration=archive)
        thread["applied_tags"] = list(tag_ids)
        thread_id = int(thread["id"])
        message = make_message(message_id=thread_id, channel_id=thread_id, author=self._users[owner_id], **starter)
        self._store(message)
        # message_count leaves out the opening message (channel docs: "not including the initial message").
        thread["message_count"] = thread["total_message_sent"] = 0
        forum["last_message_id"] = str(thread_id)  # a forum's last_message_id is its newest post
        return thread

    async def _announce_post(self, thread: JSON) -> None:
        await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        await self._dispatch_message("MESSAGE_CREATE", self._messages[int(thread["id"])])

    # ---- the bot's REST calls --------------------------------------------------------------------
    async def _post_thread(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        forum = self._channel(channel_id)
        if forum["type"] != FORUM_CHANNEL:
            return await super()._post_thread(req, channel_id)
        self._require_perms(forum, SEND_MESSAGES)  # the one permission a post needs
        body = req.json or {}
        message = body.get("message")
        errors = FormErrors()
        if not 1 <= len(body.get("name") or "") <= 100:
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if not isinstance(message, dict):
            errors.add(["message"], "BASE_TYPE_REQUIRED", "This field is required")
        tag_ids = [str(t) for t in body.get("applied_tags") or []]
        validate_applied_tags(errors, tag_ids, forum, ["applied_tags"])
        if errors:
            raise form_error(errors)
        assert isinstance(message, dict)
        self._validate_send(req, message, prefix=("message",), creating=True)
        moderated = {t["id"] for t in forum["available_tags"] if t["moderated"]}
        if moderated & set(tag_ids) and not self._may_manage_threads(self.bot_user_id, int(channel_id)):
            raise fail(403, "Missing Permissions", 50013)
        users, roles, everyone = self._bot_mentions(message, None)
        starter = {
            "content": message.get("content") or "",
            "embeds": message.get("embeds"),
            "components": message.get("components"),
            "mentions": [self._users[u] for u in users],
            "mention_roles": roles,
            "mention_everyone": everyone,
        }
        thread = self._new_post(int(channel_id), body["name"], self.bot_user_id, tag_ids, starter)
        thread["member"] = thread_member(int(thread["id"]), self.bot_user_id)
        await self._announce_post(thread)
        return ApiResponse(201, {**thread, "message": self._messages[int(thread["id"])]})

    async def _get_guild_channels(self, req: ApiRequest, guild_id: str) -> ApiResponse:
        """Every channel of the guild but its threads, forums included."""
        guild = self._guild(guild_id)
        channels = [self._channels[c] for c in guild.channel_ids]
        return ApiResponse(200, [c for c in channels if c["type"] not in THREAD_TYPES])

    async def _post_message(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        if self._channel(channel_id)["type"] == FORUM_CHANNEL:
            raise fail(400, "Cannot send messages in a non-text channel", 50008)
        return await super()._post_message(req, channel_id)

    async def _patch_channel(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        channel = self._channel(channel_id)
        body = req.json or {}
        if channel["type"] not in THREAD_TYPES:
            self._require_perms(channel, MANAGE_CHANNELS)
            channel.update({k: body[k] for k in ("name", "topic") if k in body})
            await self._dispatch("CHANNEL_UPDATE", copy.deepcopy(channel))
            return ApiResponse(200, channel)
        forum = self._forum_of(channel)
        errors = validate_thread_edit(body, forum)
        if errors:
            raise form_error(errors)
        by_owner = int(channel["owner_id"]) == self.bot_user_id
        needs_manage = edit_needs_manage_threads(body, channel, forum, by_owner=by_owner)
        self._require_perms(channel, MANAGE_THREADS if needs_manage else 0)
        await self._update_thread(channel, body)
        return ApiResponse(200, channel)

    async def _update_thread(self, thread: JSON, body: JSON) -> None:
        for key in ("name", "rate_limit_per_user", "flags"):
            if key in body:
                thread[key] = body[key]
        for key in ("archived", "locked", "auto_archive_duration", "invitable"):
            if key in body:
                thread["thread_metadata"][key] = body[key]
        if "applied_tags" in body:
            thread["applied_tags"] = [str(t) for t in dict.fromkeys(body["applied_tags"])]
        await self._dispatch("THREAD_UPDATE", copy.deepcopy(thread))

    # ---- what members do -------------------------------------------------------------------------
    async def post_in_forum(
        self, forum_id: int, title: str, content: str, *, author_id: int | None = None, tags: Iterable[str] = ()
    ) -> JSON:
        """A member opens a post: THREAD_CREATE, then MESSAGE_CREATE for its opening message (the thread's id).
        Returns the thread."""
        self._require_session()
        author_id = author_id or self.user_id
        tag_ids = [str(self.forum_tag_id(forum_id, name)) for name in tags]
        starter = self._user_message_fields(content)
        thread = self._new_post(forum_id, title, author_id, tag_ids, starter)
        await self._announce_post(thread)
        return copy.deepcopy(thread)

    async def reply_in_post(self, thread_id: int, content: str, *, author_id: int | None = None) -> JSON:
        """A member writes in a post (the poster adding detail, a helper answering): MESSAGE_CREATE."""
        if self._channels[thread_id]["type"] not in THREAD_TYPES:
            raise ValueError(f"channel {thread_id} is not a post")
        return await self.send_message(thread_id, content, author_id=author_id)

    async def tag_post(self, thread_id: int, tags: Iterable[str], *, user_id: int | None = None) -> JSON:
        """A member sets a post's tags (all of them, as Discord's client does): THREAD_UPDATE. Refused as Discord's
        client would refuse it: only the poster or a member with Manage Threads, and moderated tags only the latter."""
        self._require_session()
        user_id = user_id or self.user_id
        thread = self._channels[thread_id]
        forum = self._forum_of(thread)
        if forum is None:
            raise ValueError(f"channel {thread_id} is not a forum post")
        body = {"applied_tags": [str(self.forum_tag_id(int(forum["id"]), name)) for name in tags]}
        by_owner = int(thread["owner_id"]) == user_id
        needs_manage = edit_needs_manage_threads(body, thread, forum, by_owner=by_owner)
        if needs_manage and not self._may_manage_threads(user_id, thread_id):
            raise ValueError(f"user {user_id} may not change the tags of post {thread_id}")
        await self._update_thread(thread, body)
        return copy.deepcopy(thread)

    def _user_message_fields(self, content: str) -> dict[str, Any]:
        user_ids, role_ids, everyone = mentioned_ids(content)
        mentions = [self._users[u] for u in user_ids if u in self._users]
        return {"content": content, "mentions": mentions, "mention_roles": role_ids, "mention_everyone": everyone}
