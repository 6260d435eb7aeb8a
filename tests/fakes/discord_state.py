"""The fake's world model: users, guilds, roles, channels, messages and synced commands.

``DiscordState`` is the base every part of ``FakeDiscord`` builds on (see ``discord_server``). It
only holds and reads state; sending anything to clients is the gateway's job.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from fakes.discord_payloads import guild_object, make_application, make_member, make_role, make_text_channel, make_user
from fakes.discord_protocol import (
    BOT_ROLE_DEFAULT_PERMISSIONS,
    EVERYONE_DEFAULT_PERMISSIONS,
    INTENT_MESSAGE_CONTENT,
    JSON,
    THREAD_TYPES,
    Snowflakes,
    compute_permissions,
    shard_for,
)

# Message types people write: default, reply, chat-input and context-menu command responses.
_CONTENT_TYPES = frozenset({0, 19, 20, 23})


@dataclass
class GuildState:
    id: int
    name: str
    owner_id: int
    roles: dict[int, JSON] = field(default_factory=dict)
    members: dict[int, JSON] = field(default_factory=dict)  # member payloads without "user"
    channel_ids: list[int] = field(default_factory=list)  # text channels and threads


class DiscordState:
    """Where the fake listens, what it was configured with, and the world it serves."""

    def __init__(self, *, token: str | None, privileged_intents: int, bot_name: str) -> None:
        self.token = token  # None: any "Bot <token>" is accepted
        self.privileged_intents = privileged_intents  # enabled in the "developer portal"
        self.port = 0

        self._ids = Snowflakes()
        self._users: dict[int, JSON] = {}
        self._guilds: dict[int, GuildState] = {}
        self._channels: dict[int, JSON] = {}
        self._messages: dict[int, JSON] = {}
        self._channel_messages: dict[int, list[int]] = {}
        self._reaction_users: dict[tuple[int, str], list[int]] = {}
        self._attachments: dict[int, bytes] = {}
        self._pinned_at: dict[int, str] = {}
        self._commands: dict[int | None, list[JSON]] = {}  # guild id (None: global) -> commands
        self._command_ids: dict[tuple[int | None, str, int], int] = {}

        # Modern applications share their id with their bot user.
        self.bot_user_id = self.add_user(bot_name, bot=True)
        self.application_id = self.bot_user_id
        self.app_owner_id = self.add_user(f"{bot_name}-owner")
        self.user_id = self.add_user("alice")
        self.guild_id = self.add_guild("Test Guild")
        self.channel_id = self.add_text_channel(self.guild_id, "general")
        self.add_member(self.guild_id, self.user_id)

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.http_base}/api/v10"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ---- world model -----------------------------------------------------------------------------
    def add_user(self, name: str, *, bot: bool = False) -> int:
        user_id = self._ids.next()
        self._users[user_id] = make_user(user_id, name, bot=bot)
        return user_id

    def add_guild(self, name: str, *, owner_id: int | None = None, shard: tuple[int, int] | None = None) -> int:
        """A guild with its @everyone role, a managed bot role and the bot as a member.

        The owner (a separate user unless given) holds every permission, so it is kept away from
        the default test user. ``shard=(id, count)``: an id that shard `id` of `count` serves.
        """
        guild_id = self._ids.next()
        while shard is not None and shard_for(guild_id, shard[1]) != shard[0]:
            guild_id = self._ids.next()  # the shard is the id's millisecond modulo the count: a few ms at most
        if owner_id is None:
            owner_id = self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = GuildState(guild_id, name, owner_id)
        guild.roles[guild_id] = make_role(guild_id, "@everyone", EVERYONE_DEFAULT_PERMISSIONS)
        self._guilds[guild_id] = guild
        bot_role = self._ids.next()
        guild.roles[bot_role] = make_role(
            bot_role,
            self._users[self.bot_user_id]["username"],
            BOT_ROLE_DEFAULT_PERMISSIONS,
            position=1,
            bot_id=self.bot_user_id,
        )
        guild.members[self.bot_user_id] = make_member([bot_role])
        guild.members[owner_id] = make_member([])
        return guild_id

    def add_text_channel(self, guild_id: int, name: str, *, topic: str | None = None) -> int:
        guild = self._guilds[guild_id]
        channel_id = self._ids.next()
        position = sum(1 for c in guild.channel_ids if self._channels[c]["type"] == 0)
        self._channels[channel_id] = make_text_channel(channel_id, guild_id, name, position=position, topic=topic)
        self._channel_messages[channel_id] = []
        guild.channel_ids.append(channel_id)
        return channel_id

    def add_role(self, guild_id: int, name: str, permissions: int, *, mentionable: bool = False) -> int:
        """``mentionable``: anyone may ping it; otherwise only senders with MENTION_EVERYONE can."""
        guild = self._guilds[guild_id]
        role_id = self._ids.next()
        guild.roles[role_id] = make_role(role_id, name, permissions, position=len(guild.roles), mentionable=mentionable)
        return role_id

    def add_member(self, guild_id: int, user_id: int, roles: list[int] | None = None) -> None:
        guild = self._guilds[guild_id]
        for role_id in roles or []:
            if role_id not in guild.roles:
                raise ValueError(f"role {role_id} is not in guild {guild_id}")
        guild.members[user_id] = make_member(roles or [])

    def set_permission_overwrite(
        self, channel_id: int, target_id: int, *, allow: int = 0, deny: int = 0, member: bool = False
    ) -> None:
        overwrites = [o for o in self._channels[channel_id]["permission_overwrites"] if o["id"] != str(target_id)]
        overwrites.append({"id": str(target_id), "type": 1 if member else 0, "allow": str(allow), "deny": str(deny)})
        self._channels[channel_id]["permission_overwrites"] = overwrites

    def permissions_for(self, user_id: int, channel_id: int) -> int:
        channel = self._channels[channel_id]
        guild = self._guilds[int(channel["guild_id"])]
        # Threads take their permissions from the parent channel.
        base_channel = self._channels[int(channel["parent_id"])] if channel["type"] in THREAD_TYPES else channel
        member = guild.members.get(user_id)
        if member is None:
            return 0
        return compute_permissions(
            guild_id=guild.id,
            owner_id=guild.owner_id,
            roles=guild.roles,
            user_id=user_id,
            member_role_ids=[int(r) for r in member["roles"]],
            overwrites=base_channel.get("permission_overwrites", []),
        )

    # ---- inspection ------------------------------------------------------------------------------
    def message(self, message_id: int) -> JSON | None:
        msg = self._messages.get(message_id)
        return copy.deepcopy(msg) if msg is not None else None

    def messages_in(self, channel_id: int, *, include_users: bool = False, include_system: bool = False) -> list[JSON]:
        """Messages in a channel or thread, oldest first, as they stand now (after edits).

        By default only what the bot wrote (sends, replies, non-ephemeral interaction responses);
        ``include_users`` adds users' messages, ``include_system`` system ones (pin notices, thread
        starters).
        """
        out = []
        for mid in self._channel_messages.get(channel_id, []):
            msg = self._messages[mid]
            if not include_system and msg["type"] not in _CONTENT_TYPES:
                continue
            if include_users or int(msg["author"]["id"]) == self.bot_user_id:
                out.append(copy.deepcopy(msg))
        return out

    def channel(self, channel_id: int) -> JSON | None:
        ch = self._channels.get(channel_id)
        return copy.deepcopy(ch) if ch is not None else None

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """The commands last synced globally (``guild_id=None``) or to a guild."""
        return copy.deepcopy(self._commands.get(guild_id, []))

    # ---- views shared by REST and the gateway ----------------------------------------------------
    def _guild_payload(self, guild: GuildState) -> JSON:
        system_channel = guild.channel_ids[0] if guild.channel_ids else None
        return guild_object(guild.id, guild.name, guild.owner_id, guild.roles.values(), system_channel)

    def _application(self) -> JSON:
        return make_application(
            self.application_id,
            self._users[self.bot_user_id],
            self._users[self.app_owner_id],
            privileged_intents=self.privileged_intents,
            guild_count=len(self._guilds),
        )

    def _rest_view(self, msg: JSON) -> JSON:
        """A stored message as REST returns it (content hidden if the app lacks the content intent)."""
        view = dict(msg)
        if not self.privileged_intents & INTENT_MESSAGE_CONTENT and self._content_hidden(msg):
            view.update(content="", embeds=[], attachments=[], components=[])
        return view

    def _content_hidden(self, msg: JSON) -> bool:
        if int(msg["author"]["id"]) == self.bot_user_id:
            return False
        return not any(int(u["id"]) == self.bot_user_id for u in msg.get("mentions", []))
