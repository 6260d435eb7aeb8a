"""The fake's gateway: the JSON websocket discord.py connects to, and event dispatch.

HELLO, IDENTIFY (token and privileged-intent checks), READY and one GUILD_CREATE per guild,
heartbeat ACKs, RESUME after op 7 RECONNECT, member chunking (op 8), and zlib-stream transport
compression. ``_dispatch`` sends an event to every ready session that asked for its intent.

Sharding: GET /gateway/bot recommends ``shard_count`` shards; a session that IDENTIFYs with
``shard: [id, count]`` gets READY and GUILD_CREATE for its guilds only, and a guild's events go only to
the session of shard ``(guild_id >> 22) % count`` (DMs to shard 0), as Discord routes them. Sessions
from several processes may connect at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import secrets
import zlib
from collections import Counter
from typing import Any

from aiohttp import WSMsgType, web

from fakes.discord_payloads import guild_create, ready_event
from fakes.discord_protocol import (
    EVENT_INTENTS,
    FLAG_EPHEMERAL,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILD_PRESENCES,
    INTENT_MESSAGE_CONTENT,
    JSON,
    PRIVILEGED_INTENTS,
    parse_snowflake,
    shard_for,
)
from fakes.discord_state import DiscordState, GuildState


class GatewaySession:
    """One gateway websocket. Frames are zlib-stream compressed when the client asked for it."""

    def __init__(self, ws: web.WebSocketResponse, *, zlib_stream: bool, frames: Counter[str]) -> None:
        self.ws = ws
        self._frames = frames  # shared tally of frame encodings, for tests
        # One compressor for the whole connection, flushed with Z_SYNC_FLUSH per message: the
        # client keeps one decompressor and waits for the 00 00 ff ff suffix (utils.py).
        self._zlib = zlib.compressobj() if zlib_stream else None
        self.seq = 0
        self.session_id = ""
        self.intents = 0
        self.shard = (0, 1)  # (id, count) from IDENTIFY; an unsharded client is shard 0 of 1
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
                    self._frames["zlib-stream"] += 1
                else:
                    await self.ws.send_str(text)
                    self._frames["text"] += 1
            except ConnectionError:
                pass  # the client went away; its reader loop ends the session


class Gateway(DiscordState):
    """Gateway sessions, the handshake, and dispatching events to clients that asked for them."""

    def __init__(self, *, heartbeat_interval_ms: int, **settings: Any) -> None:
        super().__init__(**settings)
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.identify_payloads: list[JSON] = []
        self.gateway_queries: list[dict[str, str]] = []  # ?v=10&encoding=json&compress=... per connection
        self.gateway_received: list[JSON] = []
        self.gateway_frames_sent: Counter[str] = Counter()  # "zlib-stream" / "text" frames sent
        self.dispatched: list[tuple[str, JSON]] = []
        self._sessions: list[GatewaySession] = []
        self._resumable: dict[str, tuple[int, int, tuple[int, int]]] = {}  # session id -> (seq, intents, shard)
        self.shard_count = 1  # what GET /gateway/bot recommends
        self._ready_event = asyncio.Event()

    async def wait_until_connected(self, timeout: float = 5.0) -> None:
        """Until a client has identified and received READY and its GUILD_CREATEs."""
        async with asyncio.timeout(timeout):
            await self._ready_event.wait()

    @property
    def connected_shards(self) -> set[int]:
        """The shard ids of the sessions that are ready (from any number of client processes)."""
        return {s.shard[0] for s in self._sessions if s.ready}

    async def wait_for_shards(self, shard_ids: set[int], timeout: float = 5.0) -> None:
        """Until a ready session serves each of `shard_ids`."""
        async with asyncio.timeout(timeout):
            while not shard_ids <= self.connected_shards:
                await asyncio.sleep(0.05)

    @staticmethod
    def _serves(session: GatewaySession, guild_id: int | None) -> bool:
        shard_id, count = session.shard
        return shard_for(guild_id, count) == shard_id

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to connected clients: they reconnect and RESUME their session."""
        self._ready_event.clear()
        for session in list(self._sessions):
            session.ready = False
            await session.send(7, None)

    # ---- dispatch --------------------------------------------------------------------------------
    def _require_session(self) -> None:
        if not any(s.ready for s in self._sessions):
            raise RuntimeError("no client is connected to the fake gateway (wait for bot.wait_until_ready())")

    async def _dispatch(self, event: str, data: JSON) -> None:
        self.dispatched.append((event, copy.deepcopy(data)))
        needed = EVENT_INTENTS.get(event, 0)
        guild_id = parse_snowflake(str(data["guild_id"])) if data.get("guild_id") else None
        for session in list(self._sessions):
            if session.ready and session.intents & needed == needed and self._serves(session, guild_id):
                await session.send(0, copy.deepcopy(data), event)

    async def _dispatch_message(self, event: str, msg: JSON) -> None:
        """MESSAGE_CREATE/UPDATE carry ``guild_id`` and the author's ``member`` over the gateway."""
        if int(msg["flags"]) & FLAG_EPHEMERAL:
            return  # ephemeral messages exist only for the invoking user
        channel = self._channels[int(msg["channel_id"])]
        guild = self._guilds[int(channel["guild_id"])]
        data = copy.deepcopy(self._rest_view(msg) | {"guild_id": str(guild.id)})
        author_id = int(msg["author"]["id"])
        if author_id in guild.members:
            data["member"] = copy.deepcopy(guild.members[author_id])
        self.dispatched.append((event, copy.deepcopy(data)))
        for session in list(self._sessions):
            if not session.ready or not session.intents & INTENT_GUILD_MESSAGES or not self._serves(session, guild.id):
                continue
            payload = data
            if not session.intents & INTENT_MESSAGE_CONTENT and self._content_hidden(msg):
                # Without MESSAGE_CONTENT, only messages that mention the bot keep their content.
                payload = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            await session.send(0, payload, event)

    # ---- connections -----------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        # timeout: how long a server-side close waits for the client's close frame (default 10 s).
        ws = web.WebSocketResponse(timeout=1.0)
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        # discord.py asks for ?v=10&encoding=json&compress=zlib-stream (zstd-stream when a zstd
        # module is importable). zstd is answered with plain text frames, which the client
        # accepts: it only decompresses binary frames.
        session = GatewaySession(
            ws, zlib_stream=request.query.get("compress") == "zlib-stream", frames=self.gateway_frames_sent
        )
        self._sessions.append(session)
        try:
            await session.send(10, {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-discord"]})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(session, json.loads(msg.data))
        finally:
            self._sessions.remove(session)
            if session.session_id:
                self._resumable[session.session_id] = (session.seq, session.intents, session.shard)
            if not any(s.ready for s in self._sessions):
                self._ready_event.clear()
        return ws

    async def _close_sessions(self) -> None:
        for session in list(self._sessions):
            with contextlib.suppress(Exception):
                await session.ws.close(code=1001)

    async def _on_frame(self, session: GatewaySession, frame: JSON) -> None:
        self.gateway_received.append(frame)
        op, d = frame.get("op"), frame.get("d")
        if op == 1:  # heartbeat
            await session.send(11, None)
            return
        if op not in (2, 6, 8):
            return
        if not isinstance(d, dict):  # these ops carry an object: Discord closes on anything else
            await session.ws.close(code=4002, message=b"Error while decoding payload.")
            return
        if op == 2:
            await self._identify(session, d)
        elif op == 6:
            await self._resume(session, d)
        elif op == 8:
            await self._request_members(session, d)

    async def _identify(self, session: GatewaySession, d: JSON) -> None:
        self.identify_payloads.append(d)
        if self.token is not None and d.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(d.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await session.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session.intents = intents
        session.session_id = secrets.token_hex(16)
        if "shard" in d:
            session.shard = (int(d["shard"][0]), int(d["shard"][1]))
        guilds = [g for g in self._guilds.values() if self._serves(session, g.id)]
        ready = ready_event(
            bot_user=self._users[self.bot_user_id],
            guild_ids=[g.id for g in guilds],
            session_id=session.session_id,
            resume_url=self.ws_url,
            app_id=self.application_id,
            app_flags=self._application()["flags"],
        )
        if "shard" in d:
            ready["shard"] = d["shard"]
        await session.send(0, ready, "READY")
        for guild in guilds:
            await session.send(0, self._guild_create(guild, intents), "GUILD_CREATE")
        session.ready = True
        self._ready_event.set()

    def _guild_create(self, guild: GuildState, intents: int) -> JSON:
        # Without GUILD_PRESENCES Discord only sends the bot's own member (the rest come by chunking).
        bot_only = not intents & INTENT_GUILD_PRESENCES
        members = [
            {**m, "user": self._users[uid]}
            for uid, m in guild.members.items()
            if uid == self.bot_user_id or not bot_only
        ]
        return guild_create(
            self._guild_payload(guild),
            joined_at=guild.members[self.bot_user_id]["joined_at"],
            member_count=len(guild.members),
            members=members,
            channels=(self._channels[c] for c in guild.channel_ids),
        )

    async def _resume(self, session: GatewaySession, d: JSON) -> None:
        known = self._resumable.pop(d.get("session_id") or "", None)
        if known is None:
            await session.send(9, False)  # invalid session, not resumable: the client re-identifies
            return
        session.session_id = d["session_id"]
        session.seq, session.intents, session.shard = known
        await session.send(0, {"_trace": ["fake-discord"]}, "RESUMED")
        session.ready = True
        self._ready_event.set()

    async def _request_members(self, session: GatewaySession, d: JSON) -> None:
        guild = self._guilds.get(parse_snowflake(str(d.get("guild_id"))))
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
