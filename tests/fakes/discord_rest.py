"""REST handlers for the bot's own calls: users, commands, guilds, channels, messages, pins, reactions.

Interaction callbacks and webhooks are in ``discord_interactions``; ``FakeDiscord._route_table``
maps paths to all of them. Handlers check what Discord checks (existence, permissions, form
limits), change the store, and answer what Discord answers.
"""

from __future__ import annotations

import copy
from typing import Any

from fakes.discord_http import ApiRequest, ApiResponse, RestTransport, fail, form_error
from fakes.discord_message_payloads import make_message
from fakes.discord_messages import MessageStore
from fakes.discord_payloads import echo_command, thread_member
from fakes.discord_protocol import (
    ADD_REACTIONS,
    CREATE_PRIVATE_THREADS,
    CREATE_PUBLIC_THREADS,
    JSON,
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    THREAD_TYPES,
    iso_now,
    parse_snowflake,
)
from fakes.discord_validation import (
    FormErrors,
    is_empty_message,
    mention_violation,
    validate_commands,
    validate_message,
)


class RestRoutes(MessageStore, RestTransport):
    """The REST handlers for the bot's own calls (interaction routes are in ``InteractionResponses``)."""

    def __init__(self, *, require_no_mentions: bool, **settings: Any) -> None:
        super().__init__(**settings)
        self.require_no_mentions = require_no_mentions
        # Roles the no-mentions policy lets the bot name in allowed_mentions.roles (a configured helper role).
        self.pingable_roles: set[int] = set()

    # ---- users, gateway, application -------------------------------------------------------------
    async def _get_me(self, req: ApiRequest) -> ApiResponse:
        me = {**self._users[self.bot_user_id], "verified": True, "mfa_enabled": False, "email": None}
        return ApiResponse(200, me)

    async def _get_user(self, req: ApiRequest, user_id: str) -> ApiResponse:
        user = self._users.get(parse_snowflake(user_id))
        if user is None:
            raise fail(404, "Unknown User", 10013)
        return ApiResponse(200, user)

    async def _get_gateway(self, req: ApiRequest) -> ApiResponse:
        return ApiResponse(200, {"url": self.ws_url})

    async def _get_gateway_bot(self, req: ApiRequest) -> ApiResponse:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return ApiResponse(200, {"url": self.ws_url, "shards": self.shard_count, "session_start_limit": limit})

    async def _get_application(self, req: ApiRequest) -> ApiResponse:
        return ApiResponse(200, self._application())

    # ---- application commands --------------------------------------------------------------------
    def _command_scope(self, app_id: str, guild_id: str | None) -> int | None:
        if parse_snowflake(app_id) != self.application_id:
            raise fail(403, "Missing Access", 50001)
        if guild_id is None:
            return None
        if parse_snowflake(guild_id) not in self._guilds:
            raise fail(403, "Missing Access", 50001)  # bot not in that guild
        return int(guild_id)

    async def _get_commands(self, req: ApiRequest, app_id: str, guild_id: str | None = None) -> ApiResponse:
        return ApiResponse(200, self._commands.get(self._command_scope(app_id, guild_id), []))

    async def _put_commands(self, req: ApiRequest, app_id: str, guild_id: str | None = None) -> ApiResponse:
        scope = self._command_scope(app_id, guild_id)
        errors = validate_commands(req.json)
        if errors:
            raise form_error(errors)
        echoed = []
        version = self._ids.next()
        for cmd in req.json:
            key = (scope, cmd["name"], int(cmd.get("type", 1)))
            # Discord keeps a command's id across overwrites when its name and type are unchanged.
            command_id = self._command_ids.setdefault(key, self._ids.next())
            echoed.append(
                echo_command(cmd, command_id=command_id, app_id=self.application_id, guild_id=scope, version=version)
            )
        self._commands[scope] = echoed
        return ApiResponse(200, echoed)

    # ---- guilds and channels ---------------------------------------------------------------------
    async def _get_guild(self, req: ApiRequest, guild_id: str) -> ApiResponse:
        return ApiResponse(200, self._guild_payload(self._guild(guild_id)))

    async def _get_guild_channels(self, req: ApiRequest, guild_id: str) -> ApiResponse:
        guild = self._guild(guild_id)
        return ApiResponse(200, [self._channels[c] for c in guild.channel_ids if self._channels[c]["type"] == 0])

    async def _get_guild_roles(self, req: ApiRequest, guild_id: str) -> ApiResponse:
        return ApiResponse(200, list(self._guild(guild_id).roles.values()))

    async def _get_member(self, req: ApiRequest, guild_id: str, user_id: str) -> ApiResponse:
        guild = self._guild(guild_id)
        member = guild.members.get(parse_snowflake(user_id))
        if member is None:
            raise fail(404, "Unknown Member", 10007)
        return ApiResponse(200, {**member, "user": self._users[int(user_id)]})

    async def _get_channel(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        channel = self._channel(channel_id)
        self._require_perms(channel, 0)
        return ApiResponse(200, channel)

    async def _post_typing(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        channel = self._channel(channel_id)
        self._require_perms(channel, 0)
        return ApiResponse(204)

    # ---- messages --------------------------------------------------------------------------------
    async def _get_messages(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        channel = self._channel(channel_id)
        self._require_perms(channel, READ_MESSAGE_HISTORY)
        limit = max(1, min(100, int(req.query.get("limit", 50))))
        msgs = [self._messages[m] for m in self._channel_messages.get(int(channel_id), [])]
        page = _history_page(msgs, req.query, limit)
        # Discord always returns newest first.
        return ApiResponse(200, [self._rest_view(m) for m in reversed(page)])

    async def _get_message(self, req: ApiRequest, channel_id: str, message_id: str) -> ApiResponse:
        msg = self._message(channel_id, message_id)
        self._require_perms(self._channel(channel_id), READ_MESSAGE_HISTORY)
        return ApiResponse(200, self._rest_view(msg))

    async def _post_message(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        channel = self._channel(channel_id)
        is_thread = channel["type"] in THREAD_TYPES
        self._require_perms(channel, SEND_MESSAGES_IN_THREADS if is_thread else SEND_MESSAGES)
        payload = req.json or {}
        self._validate_send(req, payload, prefix=(), creating=True)
        msg = await self._create_bot_message(int(channel_id), payload, req.files)
        return ApiResponse(200, msg)

    async def _patch_message(self, req: ApiRequest, channel_id: str, message_id: str) -> ApiResponse:
        msg = self._message(channel_id, message_id)
        if int(msg["author"]["id"]) != self.bot_user_id:
            # Others' messages only allow flag changes (suppress embeds) with Manage Messages.
            raise fail(403, "Cannot edit a message authored by another user", 50005)
        payload = req.json or {}
        self._validate_send(req, payload, prefix=(), creating=False)
        await self._edit_message(msg, payload, req.files)
        return ApiResponse(200, msg)

    async def _delete_message(self, req: ApiRequest, channel_id: str, message_id: str) -> ApiResponse:
        msg = self._message(channel_id, message_id)
        if int(msg["author"]["id"]) != self.bot_user_id:
            self._require_perms(self._channel(channel_id), MANAGE_MESSAGES)
        await self._remove_message(msg)
        return ApiResponse(204)

    def _validate_send(self, req: ApiRequest, payload: JSON, *, prefix: tuple[str, ...], creating: bool) -> None:
        """Discord's form checks, then the fake's no-mentions policy (both answer 400)."""
        errors = validate_message(payload, prefix=prefix)
        if errors:
            raise form_error(errors)
        if creating and is_empty_message(payload, has_files=bool(req.files)):
            raise fail(400, "Cannot send an empty message", 50006)
        reason = mention_violation(payload, frozenset(self.pingable_roles))
        if reason is not None:
            req.mention_violation = reason
            if self.require_no_mentions:
                errors = FormErrors()
                errors.add(
                    [*prefix, "allowed_mentions"], "FAKE_MENTIONS_NOT_SUPPRESSED", f"FakeDiscord policy: {reason}"
                )
                raise form_error(errors)

    # ---- threads ---------------------------------------------------------------------------------
    async def _post_thread_from_message(self, req: ApiRequest, channel_id: str, message_id: str) -> ApiResponse:
        channel = self._channel(channel_id)
        msg = self._message(channel_id, message_id)
        if channel["type"] not in (0, 5):
            raise fail(400, "Cannot execute action on this channel type", 50024)
        self._require_perms(channel, CREATE_PUBLIC_THREADS)
        if "thread" in msg:
            raise fail(400, "A thread has already been created for this message", 160004)
        body = req.json or {}
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            errors = FormErrors()
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            raise form_error(errors)
        thread = self._new_thread(
            int(channel_id),
            name,
            self.bot_user_id,
            message_id=int(message_id),
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
            rate_limit_per_user=body.get("rate_limit_per_user"),
        )
        await self._bot_joined_thread(thread)
        return ApiResponse(201, thread)

    async def _post_thread(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        channel = self._channel(channel_id)
        body = req.json or {}
        thread_type = int(body.get("type") or 11)
        self._require_perms(channel, CREATE_PUBLIC_THREADS if thread_type == 11 else CREATE_PRIVATE_THREADS)
        thread = self._new_thread(
            int(channel_id),
            body.get("name") or "thread",
            self.bot_user_id,
            thread_type=thread_type,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        await self._bot_joined_thread(thread)
        return ApiResponse(201, thread)

    async def _bot_joined_thread(self, thread: JSON) -> None:
        """A thread the bot created lists it as a member, and THREAD_CREATE goes out."""
        thread["member"] = thread_member(int(thread["id"]), self.bot_user_id)
        await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})

    async def _join_thread(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        self._channel(channel_id)
        return ApiResponse(204)

    # ---- pins ------------------------------------------------------------------------------------
    async def _get_pins(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        self._channel(channel_id)
        items = [
            {"pinned_at": self._pinned_at.get(int(m["id"])), "message": self._rest_view(m)}
            for m in reversed([self._messages[i] for i in self._channel_messages.get(int(channel_id), [])])
            if m["pinned"]
        ]
        return ApiResponse(200, {"items": items, "has_more": False})

    async def _get_pins_legacy(self, req: ApiRequest, channel_id: str) -> ApiResponse:
        self._channel(channel_id)
        msgs = [self._messages[i] for i in self._channel_messages.get(int(channel_id), [])]
        return ApiResponse(200, [self._rest_view(m) for m in reversed(msgs) if m["pinned"]])

    async def _pin(self, req: ApiRequest, channel_id: str, message_id: str) -> ApiResponse:
        msg = self._message(channel_id, message_id)
        self._require_perms(self._channel(channel_id), MANAGE_MESSAGES)
        if not msg["pinned"]:
            msg["pinned"] = True
            self._pinned_at[int(msg["id"])] = iso_now()
            await self._dispatch_message("MESSAGE_UPDATE", msg)
            await self._post_pin_notice(channel_id, message_id)
        return ApiResponse(204)

    async def _post_pin_notice(self, channel_id: str, message_id: str) -> None:
        # Discord posts a "<bot> pinned a message" system message (type 6) in the channel.
        notice = make_message(
            message_id=self._ids.next(),
            channel_id=int(channel_id),
            author=self._users[self.bot_user_id],
            message_type=6,
            message_reference={
                "type": 0,
                "channel_id": channel_id,
                "message_id": message_id,
                "guild_id": self._channels[int(channel_id)]["guild_id"],
            },
        )
        self._store(notice)
        await self._dispatch_message("MESSAGE_CREATE", notice)

    async def _unpin(self, req: ApiRequest, channel_id: str, message_id: str) -> ApiResponse:
        msg = self._message(channel_id, message_id)
        self._require_perms(self._channel(channel_id), MANAGE_MESSAGES)
        if msg["pinned"]:
            msg["pinned"] = False
            await self._dispatch_message("MESSAGE_UPDATE", msg)
        return ApiResponse(204)

    # ---- reactions -------------------------------------------------------------------------------
    async def _put_reaction(self, req: ApiRequest, channel_id: str, message_id: str, emoji: str) -> ApiResponse:
        msg = self._message(channel_id, message_id)
        self._require_perms(self._channel(channel_id), ADD_REACTIONS | READ_MESSAGE_HISTORY)
        await self._react(msg, emoji, self.bot_user_id, add=True)
        return ApiResponse(204)

    async def _delete_reaction(
        self, req: ApiRequest, channel_id: str, message_id: str, emoji: str, user_id: str
    ) -> ApiResponse:
        msg = self._message(channel_id, message_id)
        target = self.bot_user_id if user_id == "@me" else parse_snowflake(user_id)
        if target != self.bot_user_id:
            self._require_perms(self._channel(channel_id), MANAGE_MESSAGES)
        await self._react(msg, emoji, target, add=False)
        return ApiResponse(204)

    async def _get_reactions(self, req: ApiRequest, channel_id: str, message_id: str, emoji: str) -> ApiResponse:
        self._message(channel_id, message_id)
        users = self._reaction_users.get((int(message_id), emoji), [])
        return ApiResponse(200, [self._users[u] for u in users])

    async def _clear_reactions(self, req: ApiRequest, channel_id: str, message_id: str) -> ApiResponse:
        msg = self._message(channel_id, message_id)
        self._require_perms(self._channel(channel_id), MANAGE_MESSAGES)
        msg.pop("reactions", None)
        for key in [k for k in self._reaction_users if k[0] == int(message_id)]:
            del self._reaction_users[key]
        return ApiResponse(204)


def _history_page(msgs: list[JSON], query: dict[str, str], limit: int) -> list[JSON]:
    """The slice of a channel's history (oldest first) that ``before``/``after``/``around`` select."""
    if "before" in query:
        before = int(query["before"])
        return [m for m in msgs if int(m["id"]) < before][-limit:]
    if "after" in query:
        after = int(query["after"])
        return [m for m in msgs if int(m["id"]) > after][:limit]
    if "around" in query:
        around = int(query["around"])
        older = [m for m in msgs if int(m["id"]) < around][-(limit // 2) :] if limit > 1 else []
        newer = [m for m in msgs if int(m["id"]) >= around][: limit - len(older)]
        return older + newer
    return msgs[-limit:]
