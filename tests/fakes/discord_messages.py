"""The fake's message store: creating, editing and deleting messages, attachments, reactions, threads.

Both sides write here: users (``discord_user_actions``) and the bot (REST and interaction
handlers). Every change is stored first, then dispatched over the gateway as Discord would.
"""

from __future__ import annotations

import copy
import mimetypes
from typing import TYPE_CHECKING

from fakes.discord_gateway import Gateway
from fakes.discord_http import UploadedFile, form_error
from fakes.discord_interaction_payloads import interaction_metadata
from fakes.discord_message_payloads import (
    allowed_mention_filter,
    make_message,
    mentioned_ids,
    normalize_embeds,
    number_components,
)
from fakes.discord_payloads import make_thread
from fakes.discord_protocol import (
    ADMINISTRATOR,
    FLAG_EPHEMERAL,
    FLAG_IS_COMPONENTS_V2,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    JSON,
    MENTION_EVERYONE,
    SETTABLE_MESSAGE_FLAGS,
    THREAD_TYPES,
    iso_now,
    parse_snowflake,
)
from fakes.discord_validation import FormErrors

if TYPE_CHECKING:
    from fakes.discord_interactions import InteractionState

# Message flags an edit can change; the others are fixed when the message is created.
_EDITABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_IS_COMPONENTS_V2


class MessageStore(Gateway):
    """Stored messages change here, and each change is dispatched (MESSAGE_CREATE/UPDATE/DELETE, ...)."""

    def _store(self, msg: JSON) -> None:
        mid, cid = int(msg["id"]), int(msg["channel_id"])
        self._messages[mid] = msg
        if not int(msg["flags"]) & FLAG_EPHEMERAL:
            self._channel_messages.setdefault(cid, []).append(mid)
            channel = self._channels.get(cid)
            if channel is not None:
                channel["last_message_id"] = str(mid)
                if channel["type"] in THREAD_TYPES and msg["type"] != 21:
                    channel["message_count"] += 1
                    channel["total_message_sent"] += 1

    def _referenced(self, target: JSON) -> JSON:
        ref = copy.deepcopy(target)
        ref.pop("referenced_message", None)
        return ref

    # ---- users' messages -------------------------------------------------------------------------
    def _user_message(
        self,
        channel_id: int,
        content: str,
        author_id: int | None,
        mentions_bot: bool,
        reply_to: int | None,
        ping_reply: bool,
        embeds: list[JSON] | None,
    ) -> JSON:
        author_id = author_id or self.user_id
        if mentions_bot:
            content = f"<@{self.bot_user_id}> {content}"
        reference = referenced = None
        extra_mentions: list[int] = []
        if reply_to is not None:
            target = self._messages[reply_to]
            reference = {
                "type": 0,
                "message_id": str(reply_to),
                "channel_id": target["channel_id"],
                "guild_id": self._channels[int(target["channel_id"])]["guild_id"],
            }
            referenced = self._referenced(target)
            if ping_reply:
                extra_mentions.append(int(target["author"]["id"]))
        user_ids, role_ids, everyone = mentioned_ids(content)
        mentions = [self._users[u] for u in dict.fromkeys(user_ids + extra_mentions) if u in self._users]
        msg = make_message(
            message_id=self._ids.next(),
            channel_id=channel_id,
            author=self._users[author_id],
            content=content,
            embeds=embeds,
            mentions=mentions,
            mention_roles=role_ids,
            mention_everyone=everyone,
            message_type=19 if reference else 0,
            message_reference=reference,
            referenced_message=referenced,
        )
        self._store(msg)
        return msg

    # ---- the bot's messages ----------------------------------------------------------------------
    async def _create_bot_message(
        self,
        channel_id: int,
        payload: JSON,
        files: tuple[UploadedFile, ...],
        *,
        interaction: InteractionState | None = None,
        loading: bool = False,
    ) -> JSON:
        reference, referenced = self._bot_reference(channel_id, payload.get("message_reference"))
        mention_users, mention_roles, everyone = self._bot_mentions(payload, referenced)
        flags = int(payload.get("flags") or 0) & SETTABLE_MESSAGE_FLAGS
        if loading:
            flags |= FLAG_LOADING
        message_type = 19 if reference else 0
        meta = None
        if interaction is not None:
            message_type, meta = self._interaction_response_fields(interaction)
        mid = self._ids.next()
        msg = make_message(
            message_id=mid,
            channel_id=channel_id,
            author=self._users[self.bot_user_id],
            content=payload.get("content") or "",
            embeds=payload.get("embeds"),
            components=payload.get("components"),
            attachments=self._attachments_for(channel_id, payload, files, []),
            flags=flags,
            mentions=[self._users[u] for u in mention_users],
            mention_roles=mention_roles,
            mention_everyone=everyone,
            message_type=message_type,
            tts=bool(payload.get("tts")),
            message_reference=reference,
            referenced_message=referenced,
            nonce=payload.get("nonce"),
            webhook_id=self.application_id if interaction else None,
            application_id=self.application_id if interaction else None,
            interaction_metadata=meta,
        )
        self._store(msg)
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return msg

    def _interaction_response_fields(self, interaction: InteractionState) -> tuple[int, JSON]:
        """Message type and ``interaction_metadata`` of a message answering an interaction."""
        # Chat-input command responses are type 20, context-menu ones 23, the rest (components) 0.
        message_type = {1: 20, 2: 23, 3: 23}.get(interaction.command_type or 0, 0)
        meta = interaction_metadata(
            interaction_id=interaction.id,
            interaction_type=interaction.type,
            user=interaction.payload["member"]["user"],
            owners=interaction.payload["authorizing_integration_owners"],
            interacted=interaction.component_message_id,
            original=interaction.original_id,
        )
        return message_type, meta

    def _bot_reference(self, channel_id: int, reference: JSON | None) -> tuple[JSON | None, JSON | None]:
        """The ``message_reference`` as Discord stores it, and the ``referenced_message``."""
        if not reference:
            return reference, None
        target = self._messages.get(parse_snowflake(str(reference.get("message_id"))))
        if target is None or target["channel_id"] != str(reference.get("channel_id", channel_id)):
            if reference.get("fail_if_not_exists", True):
                errors = FormErrors()
                errors.add(["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                raise form_error(errors)
            return None, None
        # discord.py sends ints; Discord echoes snowflakes as strings.
        stored = {
            "type": int(reference.get("type") or 0),
            "message_id": target["id"],
            "channel_id": target["channel_id"],
            "guild_id": self._channels[channel_id]["guild_id"],
        }
        return stored, self._referenced(target)

    def _bot_mentions(self, payload: JSON, referenced: JSON | None) -> tuple[list[int], list[int], bool]:
        """Who the bot's message actually pings: content mentions filtered by ``allowed_mentions``."""
        allowed = payload.get("allowed_mentions")
        all_users, user_ids, all_roles, role_ids, everyone_ok = allowed_mention_filter(allowed)
        users, roles, everyone = mentioned_ids(payload.get("content"))
        users = [u for u in users if u in self._users and (all_users or u in (user_ids or set()))]
        roles = [r for r in roles if (all_roles or r in (role_ids or set())) and self._bot_may_ping_role(r)]
        replied_user = allowed.get("replied_user", False) if allowed is not None else True
        if referenced is not None and replied_user:
            users = list(dict.fromkeys([*users, int(referenced["author"]["id"])]))
        return users, roles, everyone and everyone_ok

    def _bot_may_ping_role(self, role_id: int) -> bool:
        """A role is pinged only if it is mentionable or the sender has MENTION_EVERYONE (the permission's
        documented second meaning); otherwise the mention renders but notifies no one."""
        for guild in self._guilds.values():
            role = guild.roles.get(role_id)
            if role is None:
                continue
            if role.get("mentionable"):
                return True
            member = guild.members.get(self.bot_user_id)
            perms = int(guild.roles[guild.id]["permissions"])
            for held in member["roles"] if member is not None else []:
                perms |= int(guild.roles[int(held)]["permissions"])
            return bool(perms & (MENTION_EVERYONE | ADMINISTRATOR))
        return False  # an unknown role: nothing to ping

    def _attachments_for(
        self, channel_id: int, payload: JSON, files: tuple[UploadedFile, ...], existing: list[JSON]
    ) -> list[JSON]:
        """Keep listed existing attachments, turn ``files[n]`` uploads into new ones."""
        by_field = {f.field: f for f in files}
        existing_by_id = {a["id"]: a for a in existing}
        wanted = payload.get("attachments")
        if wanted is None:  # no list: keep what was there, append every upload
            out = list(existing)
            wanted_new = [{"id": i} for i in range(len(files))]
        else:
            out = [existing_by_id[str(a["id"])] for a in wanted if str(a.get("id")) in existing_by_id]
            wanted_new = [a for a in wanted if str(a.get("id")) not in existing_by_id]
        for spec in wanted_new:
            upload = by_field.get(f"files[{spec.get('id')}]")
            if upload is not None:
                out.append(self._new_attachment(channel_id, spec, upload))
        return out

    def _new_attachment(self, channel_id: int, spec: JSON, upload: UploadedFile) -> JSON:
        """Store an upload's bytes (served by the CDN route) and describe it as Discord does."""
        att_id = self._ids.next()
        filename = spec.get("filename") or upload.filename
        self._attachments[att_id] = upload.data
        url = f"{self.http_base}/attachments/{channel_id}/{att_id}/{filename}"
        att: JSON = {
            "id": str(att_id),
            "filename": filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
        }
        if spec.get("description"):
            att["description"] = spec["description"]
        return att

    async def _edit_message(self, msg: JSON, payload: JSON, files: tuple[UploadedFile, ...]) -> None:
        if "content" in payload:
            msg["content"] = payload["content"] or ""
        if "embeds" in payload:
            msg["embeds"] = normalize_embeds(payload["embeds"] or [])
        if "components" in payload:
            msg["components"] = number_components(payload["components"] or [])
        if "flags" in payload and payload["flags"] is not None:
            keep = int(msg["flags"]) & ~_EDITABLE_FLAGS
            msg["flags"] = keep | (int(payload["flags"]) & _EDITABLE_FLAGS)
        if "attachments" in payload or files:
            msg["attachments"] = self._attachments_for(int(msg["channel_id"]), payload, files, msg["attachments"])
        if "content" in payload or "allowed_mentions" in payload:
            users, roles, everyone = self._bot_mentions(payload, msg.get("referenced_message"))
            msg["mentions"] = [self._users[u] for u in users]
            msg["mention_roles"] = [str(r) for r in roles]
            msg["mention_everyone"] = everyone
        if int(msg["flags"]) & FLAG_LOADING:
            msg["flags"] = int(msg["flags"]) & ~FLAG_LOADING  # the deferred response is now complete
        else:
            msg["edited_timestamp"] = iso_now()
        await self._dispatch_message("MESSAGE_UPDATE", msg)

    async def _remove_message(self, msg: JSON) -> None:
        mid, cid = int(msg["id"]), int(msg["channel_id"])
        del self._messages[mid]
        if mid in self._channel_messages.get(cid, []):
            self._channel_messages[cid].remove(mid)
        if not int(msg["flags"]) & FLAG_EPHEMERAL:
            data = {"id": str(mid), "channel_id": str(cid), "guild_id": self._channels[cid]["guild_id"]}
            await self._dispatch("MESSAGE_DELETE", data)

    # ---- reactions and threads (either side) -----------------------------------------------------
    async def _react(self, msg: JSON, emoji: str, user_id: int, *, add: bool) -> None:
        users = self._reaction_users.setdefault((int(msg["id"]), emoji), [])
        if (user_id in users) == add:
            return
        if add:
            users.append(user_id)
        else:
            users.remove(user_id)
        name, _, emoji_id = emoji.partition(":")
        emoji_obj = {"id": emoji_id or None, "name": name}
        reactions = [r for r in msg.get("reactions", []) if r["emoji"] != emoji_obj]
        if users:
            reactions.append(
                {
                    "emoji": emoji_obj,
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.bot_user_id in users,
                    "me_burst": False,
                    "burst_colors": [],
                }
            )
        msg["reactions"] = reactions
        event = self._reaction_event(msg, emoji_obj, user_id, add=add)
        await self._dispatch("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", event)

    def _reaction_event(self, msg: JSON, emoji_obj: JSON, user_id: int, *, add: bool) -> JSON:
        channel = self._channels[int(msg["channel_id"])]
        event: JSON = {
            "user_id": str(user_id),
            "channel_id": msg["channel_id"],
            "message_id": msg["id"],
            "guild_id": channel["guild_id"],
            "emoji": emoji_obj,
            "burst": False,
            "type": 0,
        }
        if add:
            guild = self._guilds[int(channel["guild_id"])]
            if user_id in guild.members:
                event["member"] = {**guild.members[user_id], "user": self._users[user_id]}
            event["message_author_id"] = msg["author"]["id"]
        return event

    def _new_thread(
        self,
        channel_id: int,
        name: str,
        owner_id: int,
        *,
        message_id: int | None = None,
        thread_type: int = 11,
        auto_archive_duration: int = 1440,
        rate_limit_per_user: int | None = None,
    ) -> JSON:
        parent = self._channels[channel_id]
        guild = self._guilds[int(parent["guild_id"])]
        # A thread started from a message shares the message's id.
        thread_id = message_id if message_id is not None else self._ids.next()
        thread = make_thread(
            thread_id,
            guild.id,
            channel_id,
            owner_id,
            name,
            auto_archive_duration=auto_archive_duration,
            thread_type=thread_type,
            rate_limit_per_user=rate_limit_per_user,
        )
        self._channels[thread_id] = thread
        self._channel_messages[thread_id] = []
        guild.channel_ids.append(thread_id)
        if message_id is not None:
            self._open_thread_from(self._messages[message_id], thread)
        return thread

    def _open_thread_from(self, starter: JSON, thread: JSON) -> None:
        starter["thread"] = thread
        # The thread opens with a THREAD_STARTER_MESSAGE (type 21) pointing at its parent message.
        self._store(
            make_message(
                message_id=self._ids.next(),
                channel_id=int(thread["id"]),
                author=starter["author"],
                message_type=21,
                message_reference={
                    "type": 0,
                    "channel_id": thread["parent_id"],
                    "message_id": starter["id"],
                    "guild_id": thread["guild_id"],
                },
                referenced_message=self._referenced(starter),
            )
        )
