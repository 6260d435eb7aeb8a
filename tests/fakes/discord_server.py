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

``FakeDiscord`` is assembled from layers, each building on the ones before it:

    discord_state         DiscordState          settings and world model (users, guilds, channels, messages)
    discord_http          RestTransport         REST pipeline: parse, rate-limit, auth, route, record ``Call``s
    discord_gateway       Gateway               websocket sessions and event dispatch
    discord_messages      MessageStore          creating/editing messages, attachments, reactions, threads
    discord_rest          RestRoutes            REST handlers (users, commands, guilds, channels, messages...)
    discord_interactions  InteractionResponses  interaction callbacks, webhooks, outcomes
    discord_user_actions  UserActions           what users do: post, react, invoke commands, click, submit
    discord_forums        ForumActions          forum channels: posts, tags, editing threads; members' posts

Wire formats and Discord's rules are pure functions in ``discord_protocol``, ``discord_payloads``,
``discord_message_payloads``, ``discord_interaction_payloads`` and ``discord_validation``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from types import TracebackType

from aiohttp import web

from fakes.discord_forums import ForumActions
from fakes.discord_http import Call, Handler, Route, UploadedFile
from fakes.discord_interactions import InteractionOutcome, SentInteraction
from fakes.discord_protocol import PRIVILEGED_INTENTS
from fakes.loopback import LoopbackServer


class FakeDiscord(ForumActions, LoopbackServer):
    """Loopback Discord. Use as ``async with FakeDiscord() as fake``; see the module docstring."""

    def __init__(
        self,
        *,
        require_no_mentions: bool = True,
        token: str | None = None,
        privileged_intents: int = PRIVILEGED_INTENTS,
        heartbeat_interval_ms: int = 45_000,
        interaction_ack_timeout: float | None = 3.0,
        bot_name: str = "ragbot",
        shard_count: int = 1,
    ) -> None:
        super().__init__(
            require_no_mentions=require_no_mentions,
            token=token,
            privileged_intents=privileged_intents,
            heartbeat_interval_ms=heartbeat_interval_ms,
            interaction_ack_timeout=interaction_ack_timeout,
            bot_name=bot_name,
        )
        self.shard_count = shard_count  # recommended by GET /gateway/bot; routing follows each IDENTIFY's own
        self._routes = self._route_table()

    # ---- lifecycle (start and stop are LoopbackServer's) ----------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        return app

    async def _before_stop(self) -> None:
        await self._close_sessions()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        if exc_type is None and self.server_errors:
            raise AssertionError("FakeDiscord failed while handling a request") from self.server_errors[0]

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

    # ---- routes ----------------------------------------------------------------------------------
    def _route_table(self) -> list[Route]:
        """Every REST route, first match wins (so ``messages/pins`` precedes ``messages/{message_id}``)."""
        s = r"(?P<{}>[^/]+)"
        cid, mid, gid, app = s.format("channel_id"), s.format("message_id"), s.format("guild_id"), s.format("app_id")
        tok, emoji, uid = s.format("token"), s.format("emoji"), s.format("user_id")
        table: list[tuple[str, str, Handler, bool]] = [
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
            ("PATCH", f"/channels/{cid}", self._patch_channel, True),
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


__all__ = ["Call", "FakeDiscord", "InteractionOutcome", "SentInteraction", "UploadedFile"]
