"""The lifecycle both fakes share: an aiohttp application served on 127.0.0.1 at a port the OS picks."""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Self

from aiohttp import web


class LoopbackServer:
    """Subclasses build their application in ``_build_app``; ``async with`` starts it and stops it.

    Port 0 lets the OS choose, so parallel tests never collide; ``runner.addresses`` reads the port bound.
    """

    port: int = 0
    tls: ssl.SSLContext | None = None  # set before starting: served over HTTPS with this server context
    _runner: web.AppRunner | None = None

    def _build_app(self) -> web.Application:
        raise NotImplementedError

    async def _before_stop(self) -> None:
        """Close what the server holds open (e.g. websockets) before the runner shuts down."""

    @property
    def http_base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        # Short shutdown_timeout: a test that abandons a slow request must not stall teardown for 60 s.
        self._runner = web.AppRunner(self._build_app(), shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._before_stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
