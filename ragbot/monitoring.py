"""The HTTP endpoints an operator's monitoring reads: /metrics, /healthz and /readyz.

Served with aiohttp (discord.py's own HTTP library) inside the bot's event loop: a scrape reads the live queue
and gateway latency directly, and nothing runs in another thread. `ragbot run` opens it first, so /healthz
answers while the index is still being built and /readyz says what is not ready yet."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from rag.errors import ConfigError, DatabaseError

if TYPE_CHECKING:
    from bot.client import RagBotMixin
    from curation.db import Database
    from rag.config import MetricsSettings
    from ragbot.metrics import Metrics

log = logging.getLogger(__name__)
_PING_TIMEOUT = 3.0  # a database slower than this to answer SELECT 1 is not ready to log answers


@dataclass
class Readiness:
    """What the runner has brought up so far; /readyz checks each part."""

    db: Database | None = None
    index_loaded: bool = False
    bot: RagBotMixin | None = None

    async def failures(self) -> dict[str, str]:
        """Each check that fails, with a short reason; empty when ready."""
        failed: dict[str, str] = {}
        if not gateway_connected(self.bot):
            failed["gateway"] = "not connected to Discord"
        if not self.index_loaded:
            failed["index"] = "the index is not loaded yet"
        reason = await self._database()
        if reason:
            failed["database"] = reason
        return failed

    async def _database(self) -> str:
        if self.db is None:
            return "not opened yet"
        try:
            await asyncio.wait_for(self.db.ping(), _PING_TIMEOUT)
        except TimeoutError:
            return f"no answer within {_PING_TIMEOUT:g} s"
        except DatabaseError as exc:
            return str(exc)
        return ""


def gateway_connected(bot: RagBotMixin | None) -> bool:
    """The bot has received READY and its websocket is open (discord.py keeps `is_ready` through a reconnect,
    so the socket is checked too)."""
    if bot is None:
        return False
    client = bot  # a discord.py Client
    if client.is_closed() or not client.is_ready():  # type: ignore[attr-defined]
        return False
    shards = getattr(client, "shards", None)
    if shards is not None:  # AutoShardedBot: every shard of this process must be open
        return bool(shards) and all(not shard.is_closed() for shard in shards.values())
    ws = getattr(client, "ws", None)
    return ws is not None and bool(ws.open)


def _app(metrics: Metrics, readiness: Readiness) -> web.Application:
    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.scrape(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        failed = await readiness.failures()
        if failed:
            return web.json_response({"ready": False, "failed": failed}, status=503, dumps=json.dumps)
        return web.json_response({"ready": True})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


@asynccontextmanager
async def serve_monitoring(
    settings: MetricsSettings, metrics: Metrics, readiness: Readiness
) -> AsyncIterator[int | None]:
    """Serve the endpoints on the configured host and port while the block runs; yields the port (None: off)."""
    if settings.port is None:
        yield None
        return
    runner = web.AppRunner(_app(metrics, readiness), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, settings.host, settings.port).start()
        except OSError as exc:
            raise ConfigError(
                f"RAGBOT_METRICS__PORT: cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc})"
            ) from None
        port = int(runner.addresses[0][1])
        log.warning("metrics on http://%s:%d/metrics (health: /healthz, /readyz)", settings.host, port)
        yield port
    finally:
        await runner.cleanup()
