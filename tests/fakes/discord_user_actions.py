"""What the fake's users do: post, reply, react, start threads, and invoke commands, components, modals.

Each action changes the store and dispatches the gateway event a real client would receive
(MESSAGE_CREATE, MESSAGE_REACTION_ADD, THREAD_CREATE, INTERACTION_CREATE), so it needs a
connected client; only ``seed_message`` works without one.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from fakes.discord_interaction_payloads import interaction_event, modal_submit_components
from fakes.discord_interactions import InteractionResponses, InteractionState, SentInteraction
from fakes.discord_message_payloads import walk_components
from fakes.discord_protocol import JSON


class UserActions(InteractionResponses):
    """The user side: the actions tests script, each dispatched over the gateway."""

    # ---- messages, reactions, threads ------------------------------------------------------------
    def seed_message(
        self,
        channel_id: int,
        content: str,
        *,
        author_id: int | None = None,
        mentions_bot: bool = False,
        reply_to: int | None = None,
        ping_reply: bool = True,
        embeds: list[JSON] | None = None,
    ) -> JSON:
        """Store a user's message without dispatching it (history that predates the bot)."""
        return self._user_message(channel_id, content, author_id, mentions_bot, reply_to, ping_reply, embeds)

    async def send_message(
        self,
        channel_id: int,
        content: str,
        *,
        author_id: int | None = None,
        mentions_bot: bool = False,
        reply_to: int | None = None,
        ping_reply: bool = True,
        embeds: list[JSON] | None = None,
    ) -> JSON:
        """A user posts in a channel or thread: stored, then MESSAGE_CREATE. Returns the message.

        ``mentions_bot`` prefixes ``<@bot_id> ``; ``reply_to`` adds ``message_reference`` and
        ``referenced_message`` (replies ping the replied-to author unless ``ping_reply=False``).
        """
        self._require_session()
        msg = self._user_message(channel_id, content, author_id, mentions_bot, reply_to, ping_reply, embeds)
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return copy.deepcopy(msg)

    async def create_thread(
        self, channel_id: int, name: str, *, message_id: int | None = None, owner_id: int | None = None
    ) -> JSON:
        """A user starts a public thread (from ``message_id`` if given): THREAD_CREATE."""
        self._require_session()
        thread = self._new_thread(channel_id, name, owner_id or self.user_id, message_id=message_id)
        await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        return copy.deepcopy(thread)

    async def add_reaction(self, message_id: int, emoji: str, *, user_id: int | None = None) -> None:
        self._require_session()
        msg = self._messages[message_id]
        await self._react(msg, emoji, user_id or self.user_id, add=True)

    # ---- application commands --------------------------------------------------------------------
    async def slash_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        guild_id: int | None = None,
        locale: str = "en-US",
    ) -> SentInteraction:
        """INTERACTION_CREATE type 2 for a synced chat-input command.

        ``options`` maps option names to values; a dict value is a subcommand's options. The option
        types come from the synced definition (as Discord would send them).
        """
        channel_id = channel_id or self.channel_id
        guild_id = guild_id or int(self._channels[channel_id]["guild_id"])
        cmd = self._find_command(name, 1, guild_id)
        resolved: JSON = {}
        data: JSON = {"id": cmd["id"], "name": name, "type": 1}
        opts = self._command_options(cmd.get("options") or [], options or {}, resolved, guild_id, channel_id)
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        return await self._fire(2, data, user_id, channel_id, command_type=1, locale=locale)

    async def context_menu(
        self,
        name: str,
        target_message_id: int | None = None,
        *,
        target_user_id: int | None = None,
        user_id: int | None = None,
        channel_id: int | None = None,
    ) -> SentInteraction:
        """INTERACTION_CREATE type 2 for a message (data.type 3) or user (data.type 2) command."""
        if (target_message_id is None) == (target_user_id is None):
            raise ValueError("give exactly one of target_message_id and target_user_id")
        if target_message_id is not None:
            target = self._messages[target_message_id]
            channel_id = channel_id or int(target["channel_id"])
            command_type = 3
            resolved: JSON = {"messages": {str(target_message_id): copy.deepcopy(target)}}
            target_id = target_message_id
        else:
            assert target_user_id is not None
            channel_id = channel_id or self.channel_id
            command_type = 2
            resolved = {}
            self._resolve_user(resolved, target_user_id, int(self._channels[channel_id]["guild_id"]), channel_id)
            target_id = target_user_id
        guild_id = int(self._channels[channel_id]["guild_id"])
        cmd = self._find_command(name, command_type, guild_id)
        data: JSON = {"id": cmd["id"], "name": name, "type": command_type, "target_id": str(target_id)}
        data["resolved"] = resolved
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        return await self._fire(2, data, user_id, channel_id, command_type=command_type)

    def _find_command(self, name: str, command_type: int, guild_id: int) -> JSON:
        for scope in (guild_id, None):
            for cmd in self._commands.get(scope, []):
                if cmd["name"] == name and cmd["type"] == command_type:
                    return cmd
        raise LookupError(
            f"command {name!r} (type {command_type}) was never synced; Discord only sends synced commands "
            "(call bot.tree.sync(...) first)"
        )

    def _command_options(
        self, definitions: list[JSON], values: dict[str, Any], resolved: JSON, guild_id: int, channel_id: int
    ) -> list[JSON]:
        by_name = {d["name"]: d for d in definitions}
        out: list[JSON] = []
        for name, value in values.items():
            definition = by_name.get(name)
            if definition is None:
                raise ValueError(f"the synced command has no option {name!r}; it has {sorted(by_name)}")
            otype = int(definition["type"])
            if otype in (1, 2):  # subcommand / group
                sub = self._command_options(
                    definition.get("options") or [], value or {}, resolved, guild_id, channel_id
                )
                out.append({"name": name, "type": otype, "options": sub})
                continue
            self._resolve_option(otype, value, resolved, guild_id, channel_id)
            out.append({"name": name, "type": otype, "value": str(value) if otype in (6, 7, 8, 9) else value})
        if not any(d["type"] in (1, 2) for d in definitions):
            missing = [d["name"] for d in definitions if d.get("required") and d["name"] not in values]
            if missing:
                raise ValueError(f"required options missing: {missing}")
        return out

    def _resolve_option(self, otype: int, value: Any, resolved: JSON, guild_id: int, channel_id: int) -> None:
        """Add what a user, channel, role or mentionable option points at to ``data.resolved``."""
        if otype == 6 or (otype == 9 and int(value) in self._users):
            self._resolve_user(resolved, int(value), guild_id, channel_id)
        elif otype == 7:
            ch = self._channels[int(value)]
            perms = self.permissions_for(self.user_id, int(value))
            resolved.setdefault("channels", {})[str(value)] = {**ch, "permissions": str(perms)}
        elif otype in (8, 9):
            role = self._guilds[guild_id].roles[int(value)]
            resolved.setdefault("roles", {})[str(value)] = role

    def _resolve_user(self, resolved: JSON, user_id: int, guild_id: int, channel_id: int) -> None:
        resolved.setdefault("users", {})[str(user_id)] = self._users[user_id]
        member = self._guilds[guild_id].members.get(user_id)
        if member is not None:
            perms = self.permissions_for(user_id, channel_id)
            resolved.setdefault("members", {})[str(user_id)] = {**member, "permissions": str(perms)}

    # ---- components and modals -------------------------------------------------------------------
    async def click_button(self, message_id: int, custom_id: str, *, user_id: int | None = None) -> SentInteraction:
        """INTERACTION_CREATE type 3 for an enabled button on a stored message."""
        msg, comp = self._component(message_id, custom_id)
        if comp.get("type") != 2:
            raise ValueError(f"component {custom_id!r} is not a button")
        data = {"custom_id": custom_id, "component_type": 2, "id": comp.get("id")}
        return await self._fire(3, data, user_id, int(msg["channel_id"]), message=msg)

    async def select_option(
        self, message_id: int, custom_id: str, values: list[str], *, user_id: int | None = None
    ) -> SentInteraction:
        """INTERACTION_CREATE type 3 for a string select on a stored message."""
        msg, comp = self._component(message_id, custom_id)
        if comp.get("type") != 3:
            raise ValueError(f"component {custom_id!r} is not a string select")
        known = {o["value"] for o in comp.get("options") or []}
        if not set(values) <= known:
            raise ValueError(f"values {sorted(set(values) - known)} are not options of {custom_id!r}")
        data = {"custom_id": custom_id, "component_type": 3, "values": values, "id": comp.get("id")}
        return await self._fire(3, data, user_id, int(msg["channel_id"]), message=msg)

    def _component(self, message_id: int, custom_id: str) -> tuple[JSON, JSON]:
        msg = self._messages.get(message_id)
        if msg is None:
            raise ValueError(f"no stored message {message_id}")
        for comp in walk_components(msg.get("components") or []):
            if comp.get("custom_id") == custom_id:
                if comp.get("disabled"):
                    raise ValueError(f"component {custom_id!r} is disabled; a user cannot use it")
                return msg, comp
        raise ValueError(f"message {message_id} has no component {custom_id!r}")

    async def submit_modal(
        self,
        custom_id: str | None = None,
        values: dict[str, str] | None = None,
        *,
        from_interaction: SentInteraction | int | None = None,
        user_id: int | None = None,
        channel_id: int | None = None,
    ) -> SentInteraction:
        """INTERACTION_CREATE type 5 answering a modal the bot showed (callback type 9).

        The modal is the one shown for ``from_interaction``, else the last one shown. Its layout is
        mirrored (action rows or labels around text inputs); required inputs must have values.
        """
        source, modal = self._shown_modal(from_interaction)
        if modal is not None and custom_id is not None and modal["custom_id"] != custom_id:
            modal = None
        modal_id = custom_id if custom_id is not None else modal["custom_id"] if modal is not None else None
        if modal_id is None:
            raise ValueError("no modal was shown; pass custom_id")
        data = {"custom_id": modal_id, "components": modal_submit_components(modal, values or {})}
        if modal is not None and source is not None:
            source.modal_submitted = True
            if self._last_modal is not None and self._last_modal[0] is source:
                self._last_modal = None  # a submitted modal is closed
        channel_id = channel_id or (source.channel_id if source else self.channel_id)
        message = None
        if source is not None and source.component_message_id is not None:
            message = self._messages.get(source.component_message_id)
        return await self._fire(5, data, user_id, channel_id, message=message)

    def _shown_modal(
        self, from_interaction: SentInteraction | int | None
    ) -> tuple[InteractionState | None, JSON | None]:
        """The interaction that showed a modal, and that modal: ``from_interaction``'s, else the last one."""
        if from_interaction is not None:
            source = self._ix(from_interaction)
            if source.modal_submitted:
                raise ValueError("that modal was already submitted")
            return source, source.modal
        if self._last_modal is not None:
            return self._last_modal
        return None, None

    # ---- INTERACTION_CREATE ----------------------------------------------------------------------
    async def _fire(
        self,
        ix_type: int,
        data: JSON,
        user_id: int | None,
        channel_id: int,
        *,
        message: JSON | None = None,
        command_type: int | None = None,
        locale: str = "en-US",
    ) -> SentInteraction:
        self._require_session()
        user_id = user_id or self.user_id
        channel = self._channels[channel_id]
        guild = self._guilds[int(channel["guild_id"])]
        if user_id not in guild.members:
            raise ValueError(f"user {user_id} is not a member of guild {guild.id}")
        iid, token = self._ids.next(), f"aW50ZXJhY3Rpb246{secrets.token_urlsafe(48)}"
        payload = interaction_event(
            interaction_id=iid,
            token=token,
            app_id=self.application_id,
            interaction_type=ix_type,
            data=data,
            guild_id=guild.id,
            channel=channel,
            member={**guild.members[user_id], "user": self._users[user_id]},
            member_permissions=self.permissions_for(user_id, channel_id),
            app_permissions=self.permissions_for(self.bot_user_id, channel_id),
            locale=locale,
            message=copy.deepcopy(message),
        )
        rec = InteractionState(
            iid,
            token,
            ix_type,
            payload,
            channel_id,
            time.monotonic(),
            command_type=command_type,
            component_message_id=int(message["id"]) if message is not None else None,
        )
        self._interactions[iid] = rec
        self._interactions_by_token[token] = rec
        await self._dispatch("INTERACTION_CREATE", payload)
        return SentInteraction(iid, token, copy.deepcopy(payload))
