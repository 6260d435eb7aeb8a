"""Protocol-level fake of Discord (REST API v10 + JSON gateway) for the REAL discord.py client.

A real aiohttp server on 127.0.0.1 serves both the REST API and the gateway websocket, so
discord.py's HTTP client (buckets, 429 handling, multipart), gateway (HELLO/IDENTIFY/heartbeats,
zlib-stream), state cache, app-command tree, views and interaction webhooks all run unmodified.

    async with FakeDiscord() as fake:
        with fake.patch_discord():                 # Route.BASE + DiscordWebSocket.DEFAULT_GATEWAY
            bot = MyBot(..., guild_ready_timeout=0.1)
            await bot.login("fake-token")
            task = asyncio.create_task(bot.connect())
            await bot.wait_until_ready()
            await fake.send_message(fake.channel_id, "hi", mentions_bot=True)
            call = await fake.wait_for_call(lambda c: c.method == "POST" and c.path.endswith("/messages"))
            ...
            await bot.close(); await task

Paths in ``Call.path`` and ``calls_to`` are relative to ``/api/v10`` and URL-decoded.
Close the bot before leaving the ``async with`` block: the fake closes lingering gateway sockets
on exit, which a still-running client would treat as a reason to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import mimetypes
import re
import secrets
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

from fakes import discord_payloads as P
from fakes.discord_payloads import JSON

_API_PREFIX = re.compile(r"^/api(?:/v\d+)?")
_JSON_HEADERS = {"Content-Type": "application/json"}
# Message types people write: default, reply, chat-input and context-menu command responses.
_CONTENT_TYPES = frozenset({0, 19, 20, 23})
# Discord's responses come through Google's load balancer; discord.py only trusts a 429 that
# carries ``Via`` (anything else is treated as a Cloudflare ban and raised, not retried).
_VIA = {"Via": "1.1 google"}


# ---- public records ---------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Call:
    """One REST request as received, with the status the fake answered. Header names are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    files: tuple[UploadedFile, ...] = ()
    status: int = 0
    response: Any = None

    @property
    def files_count(self) -> int:
        return len(self.files)


@dataclass(frozen=True)
class SentInteraction:
    """An INTERACTION_CREATE the fake dispatched; pass it (or its id) to the inspection helpers."""

    id: int
    token: str
    payload: JSON


@dataclass(frozen=True)
class InteractionOutcome:
    """What the user ends up seeing for an interaction."""

    interaction_id: int
    callback_type: int | None
    message: JSON | None  # the original response as it stands now (after edits), if any
    followups: tuple[JSON, ...]
    modal: JSON | None
    autocomplete_choices: list[JSON] | None

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def deferred(self) -> bool:
        return self.callback_type in (5, 6)

    @property
    def ephemeral(self) -> bool:
        return bool(self.message and int(self.message["flags"]) & P.FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Still showing "<bot> is thinking…" (deferred and never completed)."""
        return bool(self.message and int(self.message["flags"]) & P.FLAG_LOADING)

    @property
    def content(self) -> str | None:
        return None if self.message is None else self.message["content"]

    @property
    def embeds(self) -> list[JSON]:
        return [] if self.message is None else self.message["embeds"]

    @property
    def components(self) -> list[JSON]:
        return [] if self.message is None else self.message["components"]


# ---- internal state ---------------------------------------------------------------------------
@dataclass
class _Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, JSON] = field(default_factory=dict)
    members: dict[int, JSON] = field(default_factory=dict)  # member payloads without "user"
    channel_ids: list[int] = field(default_factory=list)  # text channels and threads


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    payload: JSON
    channel_id: int
    created: float
    command_type: int | None = None
    component_message_id: int | None = None
    callback_type: int | None = None
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    modal: JSON | None = None
    autocomplete_choices: list[JSON] | None = None
    calls: list[Call] = field(default_factory=list)


@dataclass
class _RateLimit:
    method: str
    path_prefix: str
    retry_after: float
    global_: bool


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    files: tuple[UploadedFile, ...]
    interaction: _Interaction | None = None
    mention_violation: str | None = None


@dataclass
class _Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class _HTTPError(Exception):
    def __init__(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.response = _Response(status, body, headers or {})


def _fail(status: int, message: str, code: int = 0) -> _HTTPError:
    return _HTTPError(status, P.error_body(message, code))


def _form_error(errors: P.FormErrors) -> _HTTPError:
    return _HTTPError(400, errors.body())


_Handler = Callable[..., Awaitable[_Response]]


class _GatewaySession:
    """One gateway websocket. Frames are zlib-stream compressed when the client asked for it."""

    def __init__(self, ws: web.WebSocketResponse, *, zlib_stream: bool) -> None:
        self.ws = ws
        # One compressor for the whole connection, flushed with Z_SYNC_FLUSH per message: the
        # client keeps one decompressor and waits for the 00 00 ff ff suffix (utils.py).
        self._zlib = zlib.compressobj() if zlib_stream else None
        self.seq = 0
        self.session_id = ""
        self.intents = 0
        self.ready = False
        self._lock = asyncio.Lock()

    async def send(self, op: int, d: Any, t: str | None = None) -> None:
        async with self._lock:  # sequence numbers must reach the client in order
            s = None
            if op == 0:
                self.seq += 1
                s = self.seq
            text = json.dumps({"op": op, "d": d, "s": s, "t": t})
            if self.ws.closed:
                return
            try:
                if self._zlib is not None:
                    data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except ConnectionError:
                pass  # the client went away; its reader loop ends the session


# ---- the fake -----------------------------------------------------------------------------------
class FakeDiscord:
    """Loopback Discord. Use as ``async with FakeDiscord() as fake``; see the module docstring."""

    def __init__(
        self,
        *,
        require_no_mentions: bool = True,
        token: str | None = None,
        privileged_intents: int = P.PRIVILEGED_INTENTS,
        heartbeat_interval_ms: int = 45_000,
        interaction_ack_timeout: float | None = 3.0,
        bot_name: str = "ragbot",
    ) -> None:
        self.require_no_mentions = require_no_mentions
        self.token = token  # None: any "Bot <token>" is accepted
        self.privileged_intents = privileged_intents  # enabled in the "developer portal"
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_ack_timeout = interaction_ack_timeout  # Discord's 3 s to acknowledge

        self.calls: list[Call] = []
        self.mention_violations: list[Call] = []
        self.unhandled: list[Call] = []
        self.server_errors: list[BaseException] = []
        self.identify_payloads: list[JSON] = []
        self.gateway_queries: list[dict[str, str]] = []  # ?v=10&encoding=json&compress=... per connection
        self.gateway_received: list[JSON] = []
        self.dispatched: list[tuple[str, JSON]] = []

        self._ids = P.Snowflakes()
        self._users: dict[int, JSON] = {}
        self._guilds: dict[int, _Guild] = {}
        self._channels: dict[int, JSON] = {}
        self._messages: dict[int, JSON] = {}
        self._channel_messages: dict[int, list[int]] = {}
        self._reaction_users: dict[tuple[int, str], list[int]] = {}
        self._attachments: dict[int, bytes] = {}
        self._pinned_at: dict[int, str] = {}
        self._commands: dict[int | None, list[JSON]] = {}  # guild id (None: global) -> commands
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._interactions: dict[int, _Interaction] = {}
        self._interactions_by_token: dict[str, _Interaction] = {}
        self._last_modal: tuple[_Interaction, JSON] | None = None
        self._rate_limits: list[_RateLimit] = []
        self._sessions: list[_GatewaySession] = []
        self._resumable: dict[str, tuple[int, int]] = {}  # session id -> (seq, intents)
        self._call_event = asyncio.Event()
        self._ready_event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

        # Modern applications share their id with their bot user.
        self.bot_user_id = self.add_user(bot_name, bot=True)
        self.application_id = self.bot_user_id
        self.app_owner_id = self.add_user(f"{bot_name}-owner")
        self.user_id = self.add_user("alice")
        self.guild_id = self.add_guild("Test Guild")
        self.channel_id = self.add_text_channel(self.guild_id, "general")
        self.add_member(self.guild_id, self.user_id)
        self._routes = self._route_table()

    # ---- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        # Short shutdown_timeout: an abandoned request must not stall teardown for 60 s.
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for session in list(self._sessions):
            with contextlib.suppress(Exception):
                await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if exc_type is None and self.server_errors:
            raise AssertionError("FakeDiscord failed while handling a request") from self.server_errors[0]

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.http_base}/api/v10"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py at this fake for the duration of the block (class attributes, restored after).

        ``Route.BASE`` serves the bot's REST calls *and* interaction webhooks (webhook/async_.py
        builds its routes from the same ``Route``). A non-sharded ``Client.connect`` never calls
        GET /gateway/bot: it connects straight to ``DiscordWebSocket.DEFAULT_GATEWAY``.
        """
        import yarl
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        Route.BASE = self.api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.ws_url)
        try:
            yield
        finally:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway

    # ---- world model ------------------------------------------------------------------------
    def add_user(self, name: str, *, bot: bool = False) -> int:
        user_id = self._ids.next()
        self._users[user_id] = P.make_user(user_id, name, bot=bot)
        return user_id

    def add_guild(self, name: str, *, owner_id: int | None = None) -> int:
        """A guild with its @everyone role, a managed bot role and the bot as a member.

        The owner (a separate user unless given) holds every permission, so it is kept away from
        the default test user.
        """
        guild_id = self._ids.next()
        if owner_id is None:
            owner_id = self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = _Guild(guild_id, name, owner_id)
        guild.roles[guild_id] = P.make_role(guild_id, "@everyone", P.EVERYONE_DEFAULT_PERMISSIONS)
        self._guilds[guild_id] = guild
        bot_role = self._ids.next()
        guild.roles[bot_role] = P.make_role(
            bot_role, self._users[self.bot_user_id]["username"], P.BOT_ROLE_DEFAULT_PERMISSIONS, position=1,
            bot_id=self.bot_user_id,
        )  # fmt: skip
        guild.members[self.bot_user_id] = P.make_member([bot_role])
        guild.members[owner_id] = P.make_member([])
        return guild_id

    def add_text_channel(self, guild_id: int, name: str, *, topic: str | None = None) -> int:
        guild = self._guilds[guild_id]
        channel_id = self._ids.next()
        position = sum(1 for c in guild.channel_ids if self._channels[c]["type"] == 0)
        self._channels[channel_id] = P.make_text_channel(channel_id, guild_id, name, position=position, topic=topic)
        self._channel_messages[channel_id] = []
        guild.channel_ids.append(channel_id)
        return channel_id

    def add_role(self, guild_id: int, name: str, permissions: int) -> int:
        guild = self._guilds[guild_id]
        role_id = self._ids.next()
        guild.roles[role_id] = P.make_role(role_id, name, permissions, position=len(guild.roles))
        return role_id

    def add_member(self, guild_id: int, user_id: int, roles: list[int] | None = None) -> None:
        guild = self._guilds[guild_id]
        for role_id in roles or []:
            if role_id not in guild.roles:
                raise ValueError(f"role {role_id} is not in guild {guild_id}")
        guild.members[user_id] = P.make_member(roles or [])

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
        base_channel = self._channels[int(channel["parent_id"])] if channel["type"] in (10, 11, 12) else channel
        member = guild.members.get(user_id)
        if member is None:
            return 0
        return P.compute_permissions(
            guild_id=guild.id,
            owner_id=guild.owner_id,
            roles=guild.roles,
            user_id=user_id,
            member_role_ids=[int(r) for r in member["roles"]],
            overwrites=base_channel.get("permission_overwrites", []),
        )

    # ---- inspection -------------------------------------------------------------------------
    def calls_to(self, method: str, path_prefix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method.upper() and c.path.startswith(path_prefix)]

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

    def interaction_responses(self, interaction: SentInteraction | int) -> list[Call]:
        """Callback and webhook calls (edits, followups) addressed to an interaction, in order."""
        return list(self._ix(interaction).calls)

    def interaction_outcome(self, interaction: SentInteraction | int) -> InteractionOutcome:
        rec = self._ix(interaction)
        original = self._messages.get(rec.original_id) if rec.original_id is not None else None
        followups = tuple(copy.deepcopy(self._messages[m]) for m in rec.followup_ids if m in self._messages)
        return InteractionOutcome(
            interaction_id=rec.id,
            callback_type=rec.callback_type,
            message=copy.deepcopy(original),
            followups=followups,
            modal=copy.deepcopy(rec.modal),
            autocomplete_choices=copy.deepcopy(rec.autocomplete_choices),
        )

    def mark(self) -> int:
        """Index to pass as ``since=`` so a wait only considers calls made from now on."""
        return len(self.calls)

    async def wait_for_call(self, predicate: Callable[[Call], bool], timeout: float = 5.0, *, since: int = 0) -> Call:
        """The first recorded call (from index ``since``) matching ``predicate``; waits for it."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = self._call_event
                    for call in self.calls[since:]:
                        if predicate(call):
                            return call
                    since = len(self.calls)
                    await event.wait()
        except TimeoutError:
            seen = "\n".join(f"  {c.method} {c.path} -> {c.status}" for c in self.calls)
            raise AssertionError(f"no matching call within {timeout}s; recorded:\n{seen}") from None

    async def wait_until_connected(self, timeout: float = 5.0) -> None:
        """Until a client has identified and received READY and its GUILD_CREATEs."""
        async with asyncio.timeout(timeout):
            await self._ready_event.wait()

    # ---- scripting ----------------------------------------------------------------------------
    def rate_limit_next(
        self, method: str, path_prefix: str, retry_after: float = 0.3, global_: bool = False, *, times: int = 1
    ) -> None:
        """The next ``times`` matching calls answer 429 like Discord (body, X-RateLimit-*, Via)."""
        for _ in range(times):
            self._rate_limits.append(_RateLimit(method.upper(), path_prefix, retry_after, global_))

    # ---- user-side actions (dispatched over the gateway) --------------------------------------
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
        values = values or {}
        source: _Interaction | None = None
        modal: JSON | None = None
        if from_interaction is not None:
            source = self._ix(from_interaction)
            modal = source.modal
        elif self._last_modal is not None:
            source, modal = self._last_modal
        if modal is not None and custom_id is not None and modal["custom_id"] != custom_id:
            modal = None
        if modal is None and custom_id is None:
            raise ValueError("no modal was shown; pass custom_id")
        components = self._modal_answer(modal, values)
        data = {"custom_id": custom_id or modal["custom_id"], "components": components}  # type: ignore[index]
        channel_id = channel_id or (source.channel_id if source else self.channel_id)
        message = None
        if source is not None and source.component_message_id is not None:
            message = self._messages.get(source.component_message_id)
        return await self._fire(5, data, user_id, channel_id, message=message)

    # ---- REST pipeline ------------------------------------------------------------------------
    def _route_table(self) -> list[tuple[str, re.Pattern[str], _Handler, bool]]:
        s = r"(?P<{}>[^/]+)"
        cid, mid, gid, app = s.format("channel_id"), s.format("message_id"), s.format("guild_id"), s.format("app_id")
        tok, emoji, uid = s.format("token"), s.format("emoji"), s.format("user_id")
        table: list[tuple[str, str, _Handler, bool]] = [
            ("GET", "/users/@me", self._get_me, True),
            ("GET", f"/users/{uid}", self._get_user, True),
            ("GET", "/gateway", self._get_gateway, False),
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", f"/applications/{app}/commands", self._get_commands, True),
            ("PUT", f"/applications/{app}/commands", self._put_commands, True),
            ("GET", f"/applications/{app}/guilds/{gid}/commands", self._get_commands, True),
            ("PUT", f"/applications/{app}/guilds/{gid}/commands", self._put_commands, True),
            ("GET", f"/guilds/{gid}", self._get_guild, True),
            ("GET", f"/guilds/{gid}/channels", self._get_guild_channels, True),
            ("GET", f"/guilds/{gid}/roles", self._get_guild_roles, True),
            ("GET", f"/guilds/{gid}/members/{uid}", self._get_member, True),
            ("GET", f"/channels/{cid}", self._get_channel, True),
            ("POST", f"/channels/{cid}/typing", self._post_typing, True),
            ("GET", f"/channels/{cid}/messages", self._get_messages, True),
            ("POST", f"/channels/{cid}/messages", self._post_message, True),
            ("GET", f"/channels/{cid}/messages/pins", self._get_pins, True),
            ("GET", f"/channels/{cid}/pins", self._get_pins_legacy, True),
            ("PUT", f"/channels/{cid}/messages/pins/{mid}", self._pin, True),
            ("DELETE", f"/channels/{cid}/messages/pins/{mid}", self._unpin, True),
            ("PUT", f"/channels/{cid}/pins/{mid}", self._pin, True),
            ("DELETE", f"/channels/{cid}/pins/{mid}", self._unpin, True),
            ("GET", f"/channels/{cid}/messages/{mid}", self._get_message, True),
            ("PATCH", f"/channels/{cid}/messages/{mid}", self._patch_message, True),
            ("DELETE", f"/channels/{cid}/messages/{mid}", self._delete_message, True),
            ("POST", f"/channels/{cid}/messages/{mid}/threads", self._post_thread_from_message, True),
            ("POST", f"/channels/{cid}/threads", self._post_thread, True),
            ("PUT", f"/channels/{cid}/thread-members/@me", self._join_thread, True),
            ("PUT", f"/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._put_reaction, True),
            ("DELETE", f"/channels/{cid}/messages/{mid}/reactions/{emoji}/{uid}", self._delete_reaction, True),
            ("GET", f"/channels/{cid}/messages/{mid}/reactions/{emoji}", self._get_reactions, True),
            ("DELETE", f"/channels/{cid}/messages/{mid}/reactions", self._clear_reactions, True),
            # Interaction routes are authenticated by their token, not the bot token.
            ("POST", f"/interactions/{s.format('interaction_id')}/{tok}/callback", self._callback, False),
            ("GET", f"/webhooks/{app}/{tok}/messages/{mid}", self._get_webhook_message, False),
            ("PATCH", f"/webhooks/{app}/{tok}/messages/{mid}", self._patch_webhook_message, False),
            ("DELETE", f"/webhooks/{app}/{tok}/messages/{mid}", self._delete_webhook_message, False),
            ("POST", f"/webhooks/{app}/{tok}", self._post_followup, False),
        ]
        return [(m, re.compile(p), h, auth) for m, p, h, auth in table]

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        match = _API_PREFIX.match(request.path)
        path = request.path[match.end() :] if match else request.path
        req = await self._parse(request, path)
        unknown = False
        try:
            resp = await self._route(req)
        except _HTTPError as err:
            resp = err.response
            unknown = resp.status == 404 and resp.body == P.error_body("404: Not Found")
        except Exception as exc:  # a bug in the fake: make it loud without 5xx retries
            self.server_errors.append(exc)
            resp = _Response(418, P.error_body(f"FakeDiscord internal error: {exc!r}"))
        # Deep copy: the body may be a live stored message that later edits would mutate.
        body = copy.deepcopy(resp.body)
        call = Call(req.method, path, req.query, req.json, req.headers, req.files, resp.status, body)
        self.calls.append(call)
        if req.interaction is not None:
            req.interaction.calls.append(call)
        if req.mention_violation is not None:
            self.mention_violations.append(call)
        if unknown:
            self.unhandled.append(call)
        self._call_event.set()
        self._call_event = asyncio.Event()
        return self._to_web(resp)

    async def _parse(self, request: web.Request, path: str) -> _Request:
        body: Any = None
        files: list[UploadedFile] = []
        if request.content_type.startswith("multipart/"):
            # discord.py sends payload_json plus files[n] parts whenever files are attached.
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                raw = await part.read()
                if part.name == "payload_json":
                    body = json.loads(raw)
                else:
                    ctype = part.headers.get("Content-Type", "application/octet-stream")
                    files.append(UploadedFile(part.name or "", part.filename or "", ctype, bytes(raw)))
        elif request.can_read_body:
            raw = await request.read()
            if raw:
                body = json.loads(raw)
        headers = {k.lower(): v for k, v in request.headers.items()}
        return _Request(request.method, path, dict(request.query), body, headers, tuple(files))

    async def _route(self, req: _Request) -> _Response:
        for method, pattern, handler, auth in self._routes:
            m = pattern.fullmatch(req.path)
            if m is None or method != req.method:
                continue
            self._consume_rate_limit(req, pattern.pattern)
            if auth:
                self._check_auth(req)
            return await handler(req, **m.groupdict())
        raise _fail(404, "404: Not Found")

    def _consume_rate_limit(self, req: _Request, bucket_key: str) -> None:
        for rl in self._rate_limits:
            if rl.method == req.method and req.path.startswith(rl.path_prefix):
                self._rate_limits.remove(rl)
                reset = time.time() + rl.retry_after
                headers = {
                    "Retry-After": str(max(1, round(rl.retry_after))),
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{reset:.3f}",
                    "X-RateLimit-Reset-After": f"{rl.retry_after:.3f}",
                    "X-RateLimit-Bucket": _bucket(req.method, bucket_key),
                    "X-RateLimit-Scope": "global" if rl.global_ else "user",
                }
                if rl.global_:
                    headers["X-RateLimit-Global"] = "true"
                raise _HTTPError(429, P.rate_limit_body(rl.retry_after, rl.global_), headers)

    def _check_auth(self, req: _Request) -> None:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bot ") or (self.token is not None and auth != f"Bot {self.token}"):
            raise _fail(401, "401: Unauthorized")

    def _to_web(self, resp: _Response) -> web.Response:
        headers = {**_VIA, **resp.headers}
        if resp.status < 300 and "X-RateLimit-Limit" not in headers:
            # Plausible, never-exhausted bucket headers so discord.py's Ratelimit bookkeeping runs.
            headers.update(
                {
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "4",
                    "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
                    "X-RateLimit-Reset-After": "1.000",
                }
            )
        if resp.status == 204 or resp.body is None:
            return web.Response(status=resp.status if resp.body is None else 204, headers=headers)
        # Exactly "application/json": discord.py compares the header verbatim, so
        # web.json_response's "; charset=utf-8" would turn every body into a plain string.
        return web.Response(
            status=resp.status, body=json.dumps(resp.body).encode(), headers={**headers, **_JSON_HEADERS}
        )

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self._attachments.get(int(request.match_info["attachment_id"]))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # ---- REST: users, gateway, application, commands --------------------------------------------
    async def _get_me(self, req: _Request) -> _Response:
        me = {**self._users[self.bot_user_id], "verified": True, "mfa_enabled": False, "email": None}
        return _Response(200, me)

    async def _get_user(self, req: _Request, user_id: str) -> _Response:
        user = self._users.get(_int(user_id))
        if user is None:
            raise _fail(404, "Unknown User", 10013)
        return _Response(200, user)

    async def _get_gateway(self, req: _Request) -> _Response:
        return _Response(200, {"url": self.ws_url})

    async def _get_gateway_bot(self, req: _Request) -> _Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return _Response(200, {"url": self.ws_url, "shards": 1, "session_start_limit": limit})

    async def _get_application(self, req: _Request) -> _Response:
        return _Response(200, self._application())

    def _application(self) -> JSON:
        return P.make_application(
            self.application_id,
            self._users[self.bot_user_id],
            self._users[self.app_owner_id],
            privileged_intents=self.privileged_intents,
            guild_count=len(self._guilds),
        )

    def _command_scope(self, app_id: str, guild_id: str | None) -> int | None:
        if _int(app_id) != self.application_id:
            raise _fail(403, "Missing Access", 50001)
        if guild_id is None:
            return None
        if _int(guild_id) not in self._guilds:
            raise _fail(403, "Missing Access", 50001)  # bot not in that guild
        return int(guild_id)

    async def _get_commands(self, req: _Request, app_id: str, guild_id: str | None = None) -> _Response:
        return _Response(200, self._commands.get(self._command_scope(app_id, guild_id), []))

    async def _put_commands(self, req: _Request, app_id: str, guild_id: str | None = None) -> _Response:
        scope = self._command_scope(app_id, guild_id)
        errors = P.validate_commands(req.json)
        if errors:
            raise _form_error(errors)
        echoed = []
        version = self._ids.next()
        for cmd in req.json:
            key = (scope, cmd["name"], int(cmd.get("type", 1)))
            # Discord keeps a command's id across overwrites when its name and type are unchanged.
            command_id = self._command_ids.setdefault(key, self._ids.next())
            echoed.append(
                P.echo_command(cmd, command_id=command_id, app_id=self.application_id, guild_id=scope, version=version)
            )
        self._commands[scope] = echoed
        return _Response(200, echoed)

    # ---- REST: guilds and channels ----------------------------------------------------------------
    def _guild(self, guild_id: str) -> _Guild:
        guild = self._guilds.get(_int(guild_id))
        if guild is None:
            raise _fail(404, "Unknown Guild", 10004)
        return guild

    async def _get_guild(self, req: _Request, guild_id: str) -> _Response:
        guild = self._guild(guild_id)
        body = self._guild_payload(guild)
        return _Response(200, body)

    async def _get_guild_channels(self, req: _Request, guild_id: str) -> _Response:
        guild = self._guild(guild_id)
        return _Response(200, [self._channels[c] for c in guild.channel_ids if self._channels[c]["type"] == 0])

    async def _get_guild_roles(self, req: _Request, guild_id: str) -> _Response:
        return _Response(200, list(self._guild(guild_id).roles.values()))

    async def _get_member(self, req: _Request, guild_id: str, user_id: str) -> _Response:
        guild = self._guild(guild_id)
        member = guild.members.get(_int(user_id))
        if member is None:
            raise _fail(404, "Unknown Member", 10007)
        return _Response(200, {**member, "user": self._users[int(user_id)]})

    def _channel(self, channel_id: str | int) -> JSON:
        channel = self._channels.get(_int(channel_id))
        if channel is None:
            raise _fail(404, "Unknown Channel", 10003)
        return channel

    def _require_perms(self, channel: JSON, needed: int) -> None:
        perms = self.permissions_for(self.bot_user_id, int(channel["id"]))
        if not perms & P.VIEW_CHANNEL:
            raise _fail(403, "Missing Access", 50001)
        if perms & needed != needed:
            raise _fail(403, "Missing Permissions", 50013)

    async def _get_channel(self, req: _Request, channel_id: str) -> _Response:
        channel = self._channel(channel_id)
        self._require_perms(channel, 0)
        return _Response(200, channel)

    async def _post_typing(self, req: _Request, channel_id: str) -> _Response:
        channel = self._channel(channel_id)
        self._require_perms(channel, 0)
        return _Response(204)

    # ---- REST: messages -------------------------------------------------------------------------
    def _message(self, channel_id: str, message_id: str) -> JSON:
        self._channel(channel_id)
        msg = self._messages.get(_int(message_id))
        if msg is None or msg["channel_id"] != channel_id or int(msg["flags"]) & P.FLAG_EPHEMERAL:
            raise _fail(404, "Unknown Message", 10008)
        return msg

    async def _get_messages(self, req: _Request, channel_id: str) -> _Response:
        channel = self._channel(channel_id)
        self._require_perms(channel, P.READ_MESSAGE_HISTORY)
        limit = max(1, min(100, int(req.query.get("limit", 50))))
        msgs = [self._messages[m] for m in self._channel_messages.get(int(channel_id), [])]
        if "before" in req.query:
            before = int(req.query["before"])
            page = [m for m in msgs if int(m["id"]) < before][-limit:]
        elif "after" in req.query:
            after = int(req.query["after"])
            page = [m for m in msgs if int(m["id"]) > after][:limit]
        elif "around" in req.query:
            around = int(req.query["around"])
            older = [m for m in msgs if int(m["id"]) < around][-(limit // 2) :] if limit > 1 else []
            newer = [m for m in msgs if int(m["id"]) >= around][: limit - len(older)]
            page = older + newer
        else:
            page = msgs[-limit:]
        # Discord always returns newest first.
        return _Response(200, [self._rest_view(m) for m in reversed(page)])

    async def _get_message(self, req: _Request, channel_id: str, message_id: str) -> _Response:
        msg = self._message(channel_id, message_id)
        self._require_perms(self._channel(channel_id), P.READ_MESSAGE_HISTORY)
        return _Response(200, self._rest_view(msg))

    async def _post_message(self, req: _Request, channel_id: str) -> _Response:
        channel = self._channel(channel_id)
        is_thread = channel["type"] in (10, 11, 12)
        self._require_perms(channel, P.SEND_MESSAGES_IN_THREADS if is_thread else P.SEND_MESSAGES)
        payload = req.json or {}
        self._validate_send(req, payload, prefix=(), creating=True)
        msg = await self._create_bot_message(int(channel_id), payload, req.files)
        return _Response(200, msg)

    async def _patch_message(self, req: _Request, channel_id: str, message_id: str) -> _Response:
        msg = self._message(channel_id, message_id)
        if int(msg["author"]["id"]) != self.bot_user_id:
            # Others' messages only allow flag changes (suppress embeds) with Manage Messages.
            raise _fail(403, "Cannot edit a message authored by another user", 50005)
        payload = req.json or {}
        self._validate_send(req, payload, prefix=(), creating=False)
        await self._edit_message(msg, payload, req.files)
        return _Response(200, msg)

    async def _delete_message(self, req: _Request, channel_id: str, message_id: str) -> _Response:
        msg = self._message(channel_id, message_id)
        if int(msg["author"]["id"]) != self.bot_user_id:
            self._require_perms(self._channel(channel_id), P.MANAGE_MESSAGES)
        await self._remove_message(msg)
        return _Response(204)

    def _validate_send(self, req: _Request, payload: JSON, *, prefix: tuple[str, ...], creating: bool) -> None:
        """Discord's form checks, then the fake's no-mentions policy (both answer 400)."""
        errors = P.validate_message(payload, prefix=prefix)
        if errors:
            raise _form_error(errors)
        if creating and P.is_empty_message(payload, has_files=bool(req.files)):
            raise _fail(400, "Cannot send an empty message", 50006)
        reason = P.mention_violation(payload)
        if reason is not None:
            req.mention_violation = reason
            if self.require_no_mentions:
                errors = P.FormErrors()
                errors.add(
                    [*prefix, "allowed_mentions"], "FAKE_MENTIONS_NOT_SUPPRESSED", f"FakeDiscord policy: {reason}"
                )
                raise _form_error(errors)

    # ---- REST: threads, pins, reactions -------------------------------------------------------------
    async def _post_thread_from_message(self, req: _Request, channel_id: str, message_id: str) -> _Response:
        channel = self._channel(channel_id)
        msg = self._message(channel_id, message_id)
        if channel["type"] not in (0, 5):
            raise _fail(400, "Cannot execute action on this channel type", 50024)
        self._require_perms(channel, P.CREATE_PUBLIC_THREADS)
        if "thread" in msg:
            raise _fail(400, "A thread has already been created for this message", 160004)
        name = (req.json or {}).get("name") or ""
        if not 1 <= len(name) <= 100:
            errors = P.FormErrors()
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            raise _form_error(errors)
        body = req.json or {}
        thread = self._new_thread(
            int(channel_id), name, self.bot_user_id, message_id=int(message_id),
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
            rate_limit_per_user=body.get("rate_limit_per_user"),
        )  # fmt: skip
        thread["member"] = P.thread_member(int(thread["id"]), self.bot_user_id)
        await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        return _Response(201, thread)

    async def _post_thread(self, req: _Request, channel_id: str) -> _Response:
        channel = self._channel(channel_id)
        body = req.json or {}
        thread_type = int(body.get("type") or 11)
        self._require_perms(channel, P.CREATE_PUBLIC_THREADS if thread_type == 11 else P.CREATE_PRIVATE_THREADS)
        thread = self._new_thread(
            int(channel_id), body.get("name") or "thread", self.bot_user_id, thread_type=thread_type,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )  # fmt: skip
        thread["member"] = P.thread_member(int(thread["id"]), self.bot_user_id)
        await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        return _Response(201, thread)

    async def _join_thread(self, req: _Request, channel_id: str) -> _Response:
        self._channel(channel_id)
        return _Response(204)

    async def _get_pins(self, req: _Request, channel_id: str) -> _Response:
        self._channel(channel_id)
        items = [
            {"pinned_at": self._pinned_at.get(int(m["id"])), "message": self._rest_view(m)}
            for m in reversed([self._messages[i] for i in self._channel_messages.get(int(channel_id), [])])
            if m["pinned"]
        ]
        return _Response(200, {"items": items, "has_more": False})

    async def _get_pins_legacy(self, req: _Request, channel_id: str) -> _Response:
        self._channel(channel_id)
        msgs = [self._messages[i] for i in self._channel_messages.get(int(channel_id), [])]
        return _Response(200, [self._rest_view(m) for m in reversed(msgs) if m["pinned"]])

    async def _pin(self, req: _Request, channel_id: str, message_id: str) -> _Response:
        msg = self._message(channel_id, message_id)
        self._require_perms(self._channel(channel_id), P.MANAGE_MESSAGES)
        if not msg["pinned"]:
            msg["pinned"] = True
            self._pinned_at[int(msg["id"])] = P.iso_now()
            await self._dispatch_message("MESSAGE_UPDATE", msg)
            # Discord posts a "<bot> pinned a message" system message (type 6) in the channel.
            notice = P.make_message(
                message_id=self._ids.next(), channel_id=int(channel_id), author=self._users[self.bot_user_id],
                message_type=6,
                message_reference={"type": 0, "channel_id": channel_id, "message_id": message_id,
                                   "guild_id": self._channels[int(channel_id)]["guild_id"]},
            )  # fmt: skip
            self._store(notice)
            await self._dispatch_message("MESSAGE_CREATE", notice)
        return _Response(204)

    async def _unpin(self, req: _Request, channel_id: str, message_id: str) -> _Response:
        msg = self._message(channel_id, message_id)
        self._require_perms(self._channel(channel_id), P.MANAGE_MESSAGES)
        if msg["pinned"]:
            msg["pinned"] = False
            await self._dispatch_message("MESSAGE_UPDATE", msg)
        return _Response(204)

    async def _put_reaction(self, req: _Request, channel_id: str, message_id: str, emoji: str) -> _Response:
        msg = self._message(channel_id, message_id)
        self._require_perms(self._channel(channel_id), P.ADD_REACTIONS | P.READ_MESSAGE_HISTORY)
        await self._react(msg, emoji, self.bot_user_id, add=True)
        return _Response(204)

    async def _delete_reaction(
        self, req: _Request, channel_id: str, message_id: str, emoji: str, user_id: str
    ) -> _Response:
        msg = self._message(channel_id, message_id)
        target = self.bot_user_id if user_id == "@me" else _int(user_id)
        if target != self.bot_user_id:
            self._require_perms(self._channel(channel_id), P.MANAGE_MESSAGES)
        await self._react(msg, emoji, target, add=False)
        return _Response(204)

    async def _get_reactions(self, req: _Request, channel_id: str, message_id: str, emoji: str) -> _Response:
        self._message(channel_id, message_id)
        users = self._reaction_users.get((int(message_id), emoji), [])
        return _Response(200, [self._users[u] for u in users])

    async def _clear_reactions(self, req: _Request, channel_id: str, message_id: str) -> _Response:
        msg = self._message(channel_id, message_id)
        self._require_perms(self._channel(channel_id), P.MANAGE_MESSAGES)
        msg.pop("reactions", None)
        for key in [k for k in self._reaction_users if k[0] == int(message_id)]:
            del self._reaction_users[key]
        return _Response(204)

    # ---- REST: interactions ---------------------------------------------------------------------
    async def _callback(self, req: _Request, interaction_id: str, token: str) -> _Response:
        ix = self._interactions.get(_int(interaction_id))
        if ix is None or ix.token != token:
            raise _fail(404, "Unknown interaction", 10062)
        req.interaction = ix
        if ix.callback_type is not None:
            raise _fail(400, "Interaction has already been acknowledged.", 40060)
        if self.interaction_ack_timeout is not None and time.monotonic() - ix.created > self.interaction_ack_timeout:
            raise _fail(404, "Unknown interaction", 10062)  # what Discord says after its 3 s window
        body = req.json or {}
        cb_type = body.get("type")
        data: JSON = body.get("data") or {}
        allowed = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[ix.type]
        if cb_type not in allowed:
            errors = P.FormErrors()
            errors.add(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", f"Invalid response type {cb_type} here")
            raise _form_error(errors)
        if cb_type in (4, 7):
            self._validate_send(req, data, prefix=("data",), creating=cb_type == 4)
        if cb_type == 9:
            errors = P.validate_modal(data)
            if errors:
                raise _form_error(errors)

        ephemeral = bool(int(data.get("flags") or 0) & P.FLAG_EPHEMERAL)
        msg: JSON | None = None
        if cb_type == 4:
            msg = await self._create_bot_message(ix.channel_id, data, req.files, interaction=ix)
            ix.original_id = int(msg["id"])
        elif cb_type == 5:
            loading = {"content": "", "flags": P.FLAG_LOADING | (P.FLAG_EPHEMERAL if ephemeral else 0)}
            msg = await self._create_bot_message(ix.channel_id, loading, (), interaction=ix, loading=True)
            ix.original_id = int(msg["id"])
        elif cb_type in (6, 7):
            ix.original_id = ix.component_message_id
            if cb_type == 7 and ix.component_message_id is not None:
                msg = self._messages[ix.component_message_id]
                await self._edit_message(msg, data, req.files)
        elif cb_type == 8:
            ix.autocomplete_choices = data.get("choices") or []
        elif cb_type == 9:
            ix.modal = data
            self._last_modal = (ix, data)
        ix.callback_type = cb_type

        if req.query.get("with_response", "").lower() not in ("1", "true"):
            return _Response(204)
        # The with_response=true body (discord.py 2.5+ always asks for it and parses it).
        callback: JSON = {
            "id": str(ix.id),
            "type": ix.type,
            "response_message_loading": cb_type == 5,
            "response_message_ephemeral": ephemeral or bool(msg and int(msg["flags"]) & P.FLAG_EPHEMERAL),
        }
        if ix.original_id is not None:
            callback["response_message_id"] = str(ix.original_id)
        resource: JSON = {"type": cb_type}
        if msg is not None and cb_type in (4, 7):
            resource["message"] = msg
        return _Response(200, {"interaction": callback, "resource": resource})

    def _webhook_interaction(self, req: _Request, app_id: str, token: str) -> _Interaction:
        ix = self._interactions_by_token.get(token)
        if ix is None or _int(app_id) != self.application_id:
            raise _fail(404, "Unknown Webhook", 10015)
        req.interaction = ix
        return ix

    def _webhook_message(self, ix: _Interaction, message_id: str) -> JSON:
        mid = ix.original_id if message_id == "@original" else _int(message_id)
        if mid is None or (mid != ix.original_id and mid not in ix.followup_ids) or mid not in self._messages:
            raise _fail(404, "Unknown Message", 10008)
        return self._messages[mid]

    async def _get_webhook_message(self, req: _Request, app_id: str, token: str, message_id: str) -> _Response:
        ix = self._webhook_interaction(req, app_id, token)
        return _Response(200, self._webhook_message(ix, message_id))

    async def _patch_webhook_message(self, req: _Request, app_id: str, token: str, message_id: str) -> _Response:
        ix = self._webhook_interaction(req, app_id, token)
        msg = self._webhook_message(ix, message_id)
        payload = req.json or {}
        self._validate_send(req, payload, prefix=(), creating=False)
        await self._edit_message(msg, payload, req.files)
        return _Response(200, msg)

    async def _delete_webhook_message(self, req: _Request, app_id: str, token: str, message_id: str) -> _Response:
        ix = self._webhook_interaction(req, app_id, token)
        await self._remove_message(self._webhook_message(ix, message_id))
        return _Response(204)

    async def _post_followup(self, req: _Request, app_id: str, token: str) -> _Response:
        ix = self._webhook_interaction(req, app_id, token)
        if ix.callback_type is None:
            raise _fail(404, "Unknown Webhook", 10015)  # no followups before the initial response
        payload = req.json or {}
        self._validate_send(req, payload, prefix=(), creating=True)
        original = self._messages.get(ix.original_id) if ix.original_id is not None else None
        if original is not None and int(original["flags"]) & P.FLAG_LOADING:
            # After a thinking defer, the first followup completes the loading message; its
            # ephemerality was fixed by the defer.
            await self._edit_message(original, {k: v for k, v in payload.items() if k != "flags"}, req.files)
            msg = original
        else:
            msg = await self._create_bot_message(ix.channel_id, payload, req.files, interaction=ix)
            ix.followup_ids.append(int(msg["id"]))
        if req.query.get("wait", "").lower() not in ("1", "true"):
            return _Response(204)
        return _Response(200, msg)

    # ---- message store ----------------------------------------------------------------------------
    def _store(self, msg: JSON) -> None:
        mid, cid = int(msg["id"]), int(msg["channel_id"])
        self._messages[mid] = msg
        if not int(msg["flags"]) & P.FLAG_EPHEMERAL:
            self._channel_messages.setdefault(cid, []).append(mid)
            channel = self._channels.get(cid)
            if channel is not None:
                channel["last_message_id"] = str(mid)
                if channel["type"] in (10, 11, 12) and msg["type"] != 21:
                    channel["message_count"] += 1
                    channel["total_message_sent"] += 1

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
        user_ids, role_ids, everyone = P.mentioned_ids(content)
        mentions = [self._users[u] for u in dict.fromkeys(user_ids + extra_mentions) if u in self._users]
        msg = P.make_message(
            message_id=self._ids.next(), channel_id=channel_id, author=self._users[author_id], content=content,
            embeds=embeds, mentions=mentions, mention_roles=role_ids, mention_everyone=everyone,
            message_type=19 if reference else 0, message_reference=reference, referenced_message=referenced,
        )  # fmt: skip
        self._store(msg)
        return msg

    def _referenced(self, target: JSON) -> JSON:
        ref = copy.deepcopy(target)
        ref.pop("referenced_message", None)
        return ref

    async def _create_bot_message(
        self,
        channel_id: int,
        payload: JSON,
        files: tuple[UploadedFile, ...],
        *,
        interaction: _Interaction | None = None,
        loading: bool = False,
    ) -> JSON:
        channel = self._channels[channel_id]
        reference = payload.get("message_reference")
        referenced = None
        if reference:
            target = self._messages.get(_int(str(reference.get("message_id"))))
            if target is None or target["channel_id"] != str(reference.get("channel_id", channel_id)):
                if reference.get("fail_if_not_exists", True):
                    errors = P.FormErrors()
                    errors.add(["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                    raise _form_error(errors)
                reference = None
            else:
                referenced = self._referenced(target)
                # discord.py sends ints; Discord echoes snowflakes as strings.
                reference = {
                    "type": int(reference.get("type") or 0),
                    "message_id": target["id"],
                    "channel_id": target["channel_id"],
                    "guild_id": channel["guild_id"],
                }
        mention_users, mention_roles, everyone = self._bot_mentions(payload, referenced)
        flags = int(payload.get("flags") or 0) & P.SETTABLE_MESSAGE_FLAGS
        if loading:
            flags |= P.FLAG_LOADING
        message_type = 19 if reference else 0
        meta = None
        if interaction is not None:
            message_type = {1: 20, 2: 23, 3: 23}.get(interaction.command_type or 0, 0)
            user = interaction.payload.get("member", {}).get("user") or interaction.payload.get("user")
            meta = {"id": str(interaction.id), "type": interaction.type, "user": user}
            meta["authorizing_integration_owners"] = interaction.payload["authorizing_integration_owners"]
            if interaction.component_message_id is not None:
                meta["interacted_message_id"] = str(interaction.component_message_id)
            if interaction.original_id is not None:
                meta["original_response_message_id"] = str(interaction.original_id)
        mid = self._ids.next()
        msg = P.make_message(
            message_id=mid, channel_id=channel_id, author=self._users[self.bot_user_id],
            content=payload.get("content") or "", embeds=payload.get("embeds"),
            components=payload.get("components"), attachments=self._attachments_for(mid, channel_id, payload, files, []),
            flags=flags, mentions=[self._users[u] for u in mention_users], mention_roles=mention_roles,
            mention_everyone=everyone, message_type=message_type, tts=bool(payload.get("tts")),
            message_reference=reference, referenced_message=referenced, nonce=payload.get("nonce"),
            webhook_id=self.application_id if interaction else None,
            application_id=self.application_id if interaction else None, interaction_metadata=meta,
        )  # fmt: skip
        self._store(msg)
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return msg

    def _bot_mentions(self, payload: JSON, referenced: JSON | None) -> tuple[list[int], list[int], bool]:
        """Who the bot's message actually pings: content mentions filtered by ``allowed_mentions``."""
        allowed = payload.get("allowed_mentions")
        all_users, user_ids, all_roles, role_ids, everyone_ok = P.allowed_mention_filter(allowed)
        users, roles, everyone = P.mentioned_ids(payload.get("content"))
        users = [u for u in users if u in self._users and (all_users or u in (user_ids or set()))]
        roles = [r for r in roles if all_roles or r in (role_ids or set())]
        replied_user = allowed.get("replied_user", False) if allowed is not None else True
        if referenced is not None and replied_user:
            users = list(dict.fromkeys([*users, int(referenced["author"]["id"])]))
        return users, roles, everyone and everyone_ok

    def _attachments_for(
        self, message_id: int, channel_id: int, payload: JSON, files: tuple[UploadedFile, ...], existing: list[JSON]
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
            if upload is None:
                continue
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
            out.append(att)
        return out

    async def _edit_message(self, msg: JSON, payload: JSON, files: tuple[UploadedFile, ...]) -> None:
        if "content" in payload:
            msg["content"] = payload["content"] or ""
        if "embeds" in payload:
            msg["embeds"] = P.normalize_embeds(payload["embeds"] or [])
        if "components" in payload:
            msg["components"] = P.number_components(payload["components"] or [])
        if "flags" in payload and payload["flags"] is not None:
            keep = int(msg["flags"]) & ~(P.FLAG_SUPPRESS_EMBEDS | P.FLAG_IS_COMPONENTS_V2)
            msg["flags"] = keep | (int(payload["flags"]) & (P.FLAG_SUPPRESS_EMBEDS | P.FLAG_IS_COMPONENTS_V2))
        if "attachments" in payload or files:
            msg["attachments"] = self._attachments_for(
                int(msg["id"]), int(msg["channel_id"]), payload, files, msg["attachments"]
            )
        if "content" in payload or "allowed_mentions" in payload:
            users, roles, everyone = self._bot_mentions(payload, msg.get("referenced_message"))
            msg["mentions"] = [self._users[u] for u in users]
            msg["mention_roles"] = [str(r) for r in roles]
            msg["mention_everyone"] = everyone
        if int(msg["flags"]) & P.FLAG_LOADING:
            msg["flags"] = int(msg["flags"]) & ~P.FLAG_LOADING  # the deferred response is now complete
        else:
            msg["edited_timestamp"] = P.iso_now()
        await self._dispatch_message("MESSAGE_UPDATE", msg)

    async def _remove_message(self, msg: JSON) -> None:
        mid, cid = int(msg["id"]), int(msg["channel_id"])
        del self._messages[mid]
        if mid in self._channel_messages.get(cid, []):
            self._channel_messages[cid].remove(mid)
        if not int(msg["flags"]) & P.FLAG_EPHEMERAL:
            data = {"id": str(mid), "channel_id": str(cid), "guild_id": self._channels[cid]["guild_id"]}
            await self._dispatch("MESSAGE_DELETE", data)

    def _rest_view(self, msg: JSON) -> JSON:
        """A stored message as REST returns it (content hidden if the app lacks the content intent)."""
        view = dict(msg)
        if not self.privileged_intents & P.INTENT_MESSAGE_CONTENT and self._content_hidden(msg):
            view.update(content="", embeds=[], attachments=[], components=[])
        return view

    def _content_hidden(self, msg: JSON) -> bool:
        if int(msg["author"]["id"]) == self.bot_user_id:
            return False
        return not any(int(u["id"]) == self.bot_user_id for u in msg.get("mentions", []))

    async def _react(self, msg: JSON, emoji: str, user_id: int, *, add: bool) -> None:
        mid = int(msg["id"])
        users = self._reaction_users.setdefault((mid, emoji), [])
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
        await self._dispatch("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", event)

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
        thread = P.make_thread(
            thread_id, guild.id, channel_id, owner_id, name, auto_archive_duration=auto_archive_duration,
            thread_type=thread_type, rate_limit_per_user=rate_limit_per_user,
        )  # fmt: skip
        self._channels[thread_id] = thread
        self._channel_messages[thread_id] = []
        guild.channel_ids.append(thread_id)
        if message_id is not None:
            starter = self._messages[message_id]
            starter["thread"] = thread
            # The thread opens with a THREAD_STARTER_MESSAGE (type 21) pointing at its parent message.
            self._store(
                P.make_message(
                    message_id=self._ids.next(),
                    channel_id=thread_id,
                    author=starter["author"],
                    message_type=21,
                    message_reference={
                        "type": 0,
                        "channel_id": str(channel_id),
                        "message_id": str(message_id),
                        "guild_id": str(guild.id),
                    },
                    referenced_message=self._referenced(starter),
                )  # fmt: skip
            )
        return thread

    # ---- interactions (user side) --------------------------------------------------------------------
    def _ix(self, interaction: SentInteraction | int) -> _Interaction:
        iid = interaction.id if isinstance(interaction, SentInteraction) else interaction
        return self._interactions[iid]

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
            if otype == 6 or (otype == 9 and int(value) in self._users):
                self._resolve_user(resolved, int(value), guild_id, channel_id)
            elif otype == 7:
                ch = self._channels[int(value)]
                perms = self.permissions_for(self.user_id, int(value))
                resolved.setdefault("channels", {})[str(value)] = {**ch, "permissions": str(perms)}
            elif otype in (8, 9):
                role = self._guilds[guild_id].roles[int(value)]
                resolved.setdefault("roles", {})[str(value)] = role
            out.append({"name": name, "type": otype, "value": str(value) if otype in (6, 7, 8, 9) else value})
        if not any(d["type"] in (1, 2) for d in definitions):
            missing = [d["name"] for d in definitions if d.get("required") and d["name"] not in values]
            if missing:
                raise ValueError(f"required options missing: {missing}")
        return out

    def _resolve_user(self, resolved: JSON, user_id: int, guild_id: int, channel_id: int) -> None:
        resolved.setdefault("users", {})[str(user_id)] = self._users[user_id]
        member = self._guilds[guild_id].members.get(user_id)
        if member is not None:
            perms = self.permissions_for(user_id, channel_id)
            resolved.setdefault("members", {})[str(user_id)] = {**member, "permissions": str(perms)}

    def _component(self, message_id: int, custom_id: str) -> tuple[JSON, JSON]:
        msg = self._messages.get(message_id)
        if msg is None:
            raise ValueError(f"no stored message {message_id}")
        for comp in P.walk_components(msg.get("components") or []):
            if comp.get("custom_id") == custom_id:
                if comp.get("disabled"):
                    raise ValueError(f"component {custom_id!r} is disabled; a user cannot use it")
                return msg, comp
        raise ValueError(f"message {message_id} has no component {custom_id!r}")

    def _modal_answer(self, modal: JSON | None, values: dict[str, str]) -> list[JSON]:
        if modal is None:
            return [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()]
        inputs = {c["custom_id"]: c for c in P.walk_components(modal["components"]) if c.get("type") == 4}
        unknown = set(values) - set(inputs)
        if unknown:
            raise ValueError(f"the modal has no text inputs {sorted(unknown)}; it has {sorted(inputs)}")
        for cid, comp in inputs.items():
            value = values.get(cid, comp.get("value") or "")
            if comp.get("required", True) and not value:
                raise ValueError(f"text input {cid!r} is required")
            if len(value) > int(comp.get("max_length") or 4000) or (
                value and len(value) < int(comp.get("min_length") or 0)
            ):
                raise ValueError(f"text input {cid!r}: length {len(value)} is outside its bounds")

        def answer(comp: JSON) -> JSON:
            cid = comp["custom_id"]
            return {
                "type": 4,
                "id": comp.get("id"),
                "custom_id": cid,
                "value": values.get(cid, comp.get("value") or ""),
            }

        out: list[JSON] = []
        for top in modal["components"]:
            if top.get("type") == 1:
                out.append({"type": 1, "id": top.get("id"), "components": [answer(c) for c in top["components"]]})
            elif top.get("type") == 18 and top.get("component", {}).get("type") == 4:
                out.append({"type": 18, "id": top.get("id"), "component": answer(top["component"])})
        return out

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
        member = {**guild.members[user_id], "user": self._users[user_id]}
        member["permissions"] = str(self.permissions_for(user_id, channel_id))
        payload: JSON = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": ix_type,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": {**channel, "permissions": member["permissions"]},
            "member": member,
            "token": token,
            "version": 1,
            "app_permissions": str(self.permissions_for(self.bot_user_id, channel_id)),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": P.ATTACHMENT_SIZE_LIMIT,
        }
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        rec = _Interaction(
            iid, token, ix_type, payload, channel_id, time.monotonic(), command_type=command_type,
            component_message_id=int(message["id"]) if message is not None else None,
        )  # fmt: skip
        self._interactions[iid] = rec
        self._interactions_by_token[token] = rec
        await self._dispatch("INTERACTION_CREATE", payload)
        return SentInteraction(iid, token, copy.deepcopy(payload))

    # ---- gateway ------------------------------------------------------------------------------------
    def _require_session(self) -> None:
        if not any(s.ready for s in self._sessions):
            raise RuntimeError("no client is connected to the fake gateway (wait for bot.wait_until_ready())")

    async def _dispatch(self, event: str, data: JSON) -> None:
        self.dispatched.append((event, copy.deepcopy(data)))
        needed = P.EVENT_INTENTS.get(event, 0)
        for session in list(self._sessions):
            if session.ready and session.intents & needed == needed:
                await session.send(0, copy.deepcopy(data), event)

    async def _dispatch_message(self, event: str, msg: JSON) -> None:
        """MESSAGE_CREATE/UPDATE carry ``guild_id`` and the author's ``member`` over the gateway."""
        if int(msg["flags"]) & P.FLAG_EPHEMERAL:
            return  # ephemeral messages exist only for the invoking user
        channel = self._channels[int(msg["channel_id"])]
        guild = self._guilds[int(channel["guild_id"])]
        data = copy.deepcopy(self._rest_view(msg) | {"guild_id": str(guild.id)})
        author_id = int(msg["author"]["id"])
        if author_id in guild.members:
            data["member"] = copy.deepcopy(guild.members[author_id])
        self.dispatched.append((event, copy.deepcopy(data)))
        for session in list(self._sessions):
            if not session.ready or not session.intents & P.INTENT_GUILD_MESSAGES:
                continue
            payload = data
            if not session.intents & P.INTENT_MESSAGE_CONTENT and self._content_hidden(msg):
                # Without MESSAGE_CONTENT, only messages that mention the bot keep their content.
                payload = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            await session.send(0, payload, event)

    def _guild_payload(self, guild: _Guild) -> JSON:
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": list(guild.roles.values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(guild.channel_ids[0]) if guild.channel_ids else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "incidents_data": None,
        }

    def _guild_create(self, guild: _Guild, intents: int) -> JSON:
        channels = [self._channels[c] for c in guild.channel_ids]
        # Without GUILD_PRESENCES Discord only sends the bot's own member (the rest come by chunking).
        visible = (
            guild.members if intents & P.INTENT_GUILD_PRESENCES else {self.bot_user_id: guild.members[self.bot_user_id]}
        )
        return {
            **self._guild_payload(guild),
            "joined_at": guild.members[self.bot_user_id]["joined_at"],
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(guild.members),
            "members": [{**m, "user": self._users[uid]} for uid, m in visible.items()],
            "channels": [c for c in channels if c["type"] not in (10, 11, 12)],
            "threads": [c for c in channels if c["type"] in (10, 11, 12)],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
        }

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        # discord.py asks for ?v=10&encoding=json&compress=zlib-stream (zstd-stream when a zstd
        # module is importable). zstd is answered with plain text frames, which the client
        # accepts: it only decompresses binary frames.
        session = _GatewaySession(ws, zlib_stream=request.query.get("compress") == "zlib-stream")
        self._sessions.append(session)
        try:
            await session.send(10, {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-discord"]})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(session, json.loads(msg.data))
        finally:
            self._sessions.remove(session)
            if session.session_id:
                self._resumable[session.session_id] = (session.seq, session.intents)
            if not any(s.ready for s in self._sessions):
                self._ready_event.clear()
        return ws

    async def _on_frame(self, session: _GatewaySession, frame: JSON) -> None:
        self.gateway_received.append(frame)
        op, d = frame.get("op"), frame.get("d")
        if op == 1:  # heartbeat
            await session.send(11, None)
        elif op == 2:
            await self._identify(session, d)
        elif op == 6:
            await self._resume(session, d)
        elif op == 8:
            await self._request_members(session, d)

    async def _identify(self, session: _GatewaySession, d: JSON) -> None:
        self.identify_payloads.append(d)
        if self.token is not None and d.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(d.get("intents", 0))
        if intents & P.PRIVILEGED_INTENTS & ~self.privileged_intents:
            await session.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session.intents = intents
        session.session_id = secrets.token_hex(16)
        ready: JSON = {
            "v": 10,
            "user": {**self._users[self.bot_user_id], "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g), "unavailable": True} for g in self._guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.ws_url,
            "application": {"id": str(self.application_id), "flags": self._application()["flags"]},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        if "shard" in d:
            ready["shard"] = d["shard"]
        await session.send(0, ready, "READY")
        for guild in self._guilds.values():
            await session.send(0, self._guild_create(guild, intents), "GUILD_CREATE")
        session.ready = True
        self._ready_event.set()

    async def _resume(self, session: _GatewaySession, d: JSON) -> None:
        known = self._resumable.pop(d.get("session_id") or "", None)
        if known is None:
            await session.send(9, False)  # invalid session, not resumable: the client re-identifies
            return
        session.session_id = d["session_id"]
        session.seq, session.intents = known
        await session.send(0, {"_trace": ["fake-discord"]}, "RESUMED")
        session.ready = True
        self._ready_event.set()

    async def _request_members(self, session: _GatewaySession, d: JSON) -> None:
        guild = self._guilds.get(_int(str(d.get("guild_id"))))
        if guild is None:
            return
        user_ids = {int(u) for u in d.get("user_ids") or []}
        query = (d.get("query") or "").lower()
        members = [
            {**m, "user": self._users[uid]}
            for uid, m in guild.members.items()
            if (not user_ids or uid in user_ids) and self._users[uid]["username"].lower().startswith(query)
        ]
        limit = int(d.get("limit") or 0)
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": members[:limit] if limit else members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        await session.send(0, chunk, "GUILD_MEMBERS_CHUNK")


def _int(value: str) -> int:
    """Snowflake from a path segment; junk maps to an id that matches nothing."""
    return int(value) if value.isdigit() else -1


def _bucket(method: str, pattern: str) -> str:
    return hashlib.sha1(f"{method} {pattern}".encode()).hexdigest()[:32]


__all__ = ["Call", "FakeDiscord", "InteractionOutcome", "SentInteraction", "UploadedFile"]
