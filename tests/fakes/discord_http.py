"""The fake's REST transport: requests as recorded, Discord-shaped errors, and the request pipeline.

``RestTransport`` parses each request, applies scripted rate limits and bot-token auth, routes it
to a handler (the table is assembled by ``FakeDiscord``), records it as a ``Call`` and answers
with the headers discord.py relies on. It also holds the lookups every REST handler starts with.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from fakes.discord_protocol import FLAG_EPHEMERAL, JSON, VIEW_CHANNEL, parse_snowflake
from fakes.discord_state import DiscordState, GuildState
from fakes.discord_validation import (
    FormErrors,
    error_body,
    ok_rate_limit_headers,
    rate_limit_body,
    rate_limit_headers,
)

if TYPE_CHECKING:
    from fakes.discord_interactions import InteractionState

_API_PREFIX = re.compile(r"^/api(?:/v\d+)?")
_JSON_HEADERS = {"Content-Type": "application/json"}
# Discord's responses come through Google's load balancer; discord.py only trusts a 429 that
# carries ``Via`` (anything else is treated as a Cloudflare ban and raised, not retried).
_VIA = {"Via": "1.1 google"}


# ---- public records ------------------------------------------------------------------------------
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
    at: float = 0.0  # time.monotonic() when the fake answered (tests check pacing, e.g. edits per second)

    @property
    def files_count(self) -> int:
        return len(self.files)


# ---- requests, responses and errors --------------------------------------------------------------
@dataclass
class ApiRequest:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    files: tuple[UploadedFile, ...]
    interaction: InteractionState | None = None  # set by the interaction routes
    mention_violation: str | None = None


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    def __init__(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.response = ApiResponse(status, body, headers or {})


def fail(status: int, message: str, code: int = 0) -> ApiError:
    return ApiError(status, error_body(message, code))


def form_error(errors: FormErrors) -> ApiError:
    return ApiError(400, errors.body())


Handler = Callable[..., Awaitable[ApiResponse]]
Route = tuple[str, re.Pattern[str], Handler, bool]  # method, path pattern, handler, needs the bot token


@dataclass
class _RateLimit:
    method: str
    path_prefix: str
    retry_after: float
    global_: bool


async def parse_request(request: web.Request, path: str) -> ApiRequest:
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
    return ApiRequest(request.method, path, dict(request.query), body, headers, tuple(files))


def to_web_response(resp: ApiResponse) -> web.Response:
    headers = {**_VIA, **resp.headers}
    if resp.status < 300:
        headers.update(ok_rate_limit_headers())
    if resp.body is None:  # 204s: no body, no Content-Type (discord.py then returns "")
        return web.Response(status=resp.status, headers=headers)
    # Exactly "application/json": discord.py compares the header verbatim, so
    # web.json_response's "; charset=utf-8" would turn every body into a plain string.
    return web.Response(status=resp.status, body=json.dumps(resp.body).encode(), headers={**headers, **_JSON_HEADERS})


def _bucket(method: str, pattern: str) -> str:
    return hashlib.sha1(f"{method} {pattern}".encode()).hexdigest()[:32]


# ---- the pipeline --------------------------------------------------------------------------------
class RestTransport(DiscordState):
    """Every REST request goes through ``_rest``; handlers raise ``ApiError`` for Discord's error answers."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.calls: list[Call] = []
        self.mention_violations: list[Call] = []
        self.unhandled: list[Call] = []
        self.server_errors: list[BaseException] = []
        self._rate_limits: list[_RateLimit] = []
        self._call_event = asyncio.Event()
        self._routes: list[Route] = []  # filled by FakeDiscord with every part's handlers

    def rate_limit_next(
        self, method: str, path_prefix: str, retry_after: float = 0.3, global_: bool = False, *, times: int = 1
    ) -> None:
        """The next ``times`` matching calls answer 429 like Discord (body, X-RateLimit-*, Via)."""
        for _ in range(times):
            self._rate_limits.append(_RateLimit(method.upper(), path_prefix, retry_after, global_))

    def calls_to(self, method: str, path_prefix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method.upper() and c.path.startswith(path_prefix)]

    def mark(self) -> int:
        """Index to pass as ``since=`` so a wait only considers calls made from now on."""
        return len(self.calls)

    async def wait_for_call(self, predicate: Callable[[Call], bool], timeout: float = 30.0, *, since: int = 0) -> Call:
        """The first recorded call (from index ``since``) matching ``predicate``; waits for it. The wait ends when
        the call arrives, so the generous default costs nothing; it only has to outlast a loaded machine."""
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

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        match = _API_PREFIX.match(request.path)
        path = request.path[match.end() :] if match else request.path
        req = await parse_request(request, path)
        unknown = False
        try:
            resp = await self._route(req)
        except ApiError as err:
            resp = err.response
            unknown = resp.status == 404 and resp.body == error_body("404: Not Found")
        except Exception as exc:  # a bug in the fake: make it loud without 5xx retries
            self.server_errors.append(exc)
            resp = ApiResponse(418, error_body(f"FakeDiscord internal error: {exc!r}"))
        self._record(req, resp, unknown=unknown)
        return to_web_response(resp)

    def _record(self, req: ApiRequest, resp: ApiResponse, *, unknown: bool) -> None:
        # Deep copy: the body may be a live stored message that later edits would mutate.
        body = copy.deepcopy(resp.body)
        call = Call(
            req.method, req.path, req.query, req.json, req.headers, req.files, resp.status, body, time.monotonic()
        )
        self.calls.append(call)
        if req.interaction is not None:
            req.interaction.calls.append(call)
        if req.mention_violation is not None:
            self.mention_violations.append(call)
        if unknown:
            self.unhandled.append(call)
        self._call_event.set()
        self._call_event = asyncio.Event()

    async def _route(self, req: ApiRequest) -> ApiResponse:
        for method, pattern, handler, auth in self._routes:
            m = pattern.fullmatch(req.path)
            if m is None or method != req.method:
                continue
            self._consume_rate_limit(req, pattern.pattern)
            if auth:
                self._check_auth(req)
            return await handler(req, **m.groupdict())
        raise fail(404, "404: Not Found")

    def _consume_rate_limit(self, req: ApiRequest, bucket_key: str) -> None:
        for rl in self._rate_limits:
            if rl.method == req.method and req.path.startswith(rl.path_prefix):
                self._rate_limits.remove(rl)
                headers = rate_limit_headers(
                    retry_after=rl.retry_after, bucket=_bucket(req.method, bucket_key), global_=rl.global_
                )
                raise ApiError(429, rate_limit_body(rl.retry_after, rl.global_), headers)

    def _check_auth(self, req: ApiRequest) -> None:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bot ") or (self.token is not None and auth != f"Bot {self.token}"):
            raise fail(401, "401: Unauthorized")

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self._attachments.get(int(request.match_info["attachment_id"]))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # ---- lookups every handler starts with (Discord's 404 and 403 answers) -----------------------
    def _guild(self, guild_id: str) -> GuildState:
        guild = self._guilds.get(parse_snowflake(guild_id))
        if guild is None:
            raise fail(404, "Unknown Guild", 10004)
        return guild

    def _channel(self, channel_id: str) -> JSON:
        channel = self._channels.get(parse_snowflake(channel_id))
        if channel is None:
            raise fail(404, "Unknown Channel", 10003)
        return channel

    def _message(self, channel_id: str, message_id: str) -> JSON:
        self._channel(channel_id)
        msg = self._messages.get(parse_snowflake(message_id))
        if msg is None or msg["channel_id"] != channel_id or int(msg["flags"]) & FLAG_EPHEMERAL:
            raise fail(404, "Unknown Message", 10008)
        return msg

    def _require_perms(self, channel: JSON, needed: int) -> None:
        perms = self.permissions_for(self.bot_user_id, int(channel["id"]))
        if not perms & VIEW_CHANNEL:
            raise fail(403, "Missing Access", 50001)
        if perms & needed != needed:
            raise fail(403, "Missing Permissions", 50013)
