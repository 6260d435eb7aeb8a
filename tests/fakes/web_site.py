"""A loopback web site: the external server a curator's URL points at, faked at the HTTP level.

Pages are set per path by the test (and may change between requests); it answers conditional requests with
304 like a real server, follows no script beyond that, and records every request it received."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from fakes.loopback import LoopbackServer


@dataclass
class Page:
    body: bytes
    content_type: str
    etag: str = ""
    last_modified: str = ""


@dataclass
class Endless:
    """A body of `size` bytes generated as it is sent (never held whole), without a Content-Length."""

    size: int
    sent: int = 0
    finished: bool = False


@dataclass
class Dripping:
    """A body sent a few bytes at a time, each within any read timeout, never ending."""

    interval: float


@dataclass
class WebSite(LoopbackServer):
    pages: dict[str, Page | Endless | Dripping | str] = field(default_factory=dict)  # a str: redirect there (302)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.http_base}{path}"

    def page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8", **meta: str) -> str:
        self.pages[path] = Page(body.encode() if isinstance(body, str) else body, content_type, **meta)
        return self.url(path)

    def redirect(self, path: str, location: str) -> str:
        self.pages[path] = location
        return self.url(path)

    def requested(self, path: str) -> list[dict[str, str]]:
        return [headers for where, headers in self.requests if where == path]

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        return app

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.headers)))
        page = self.pages.get(request.path)
        if page is None:
            return web.Response(status=404, text="not found")
        if isinstance(page, str):
            return web.Response(status=302, headers={"Location": page})
        if isinstance(page, Endless):
            return await self._endless(request, page)
        if isinstance(page, Dripping):
            return await self._drip(request, page)
        if page.etag and request.headers.get("If-None-Match") == page.etag:
            return web.Response(status=304, headers={"ETag": page.etag})
        headers = {"Content-Type": page.content_type}
        headers |= {"ETag": page.etag} if page.etag else {}
        headers |= {"Last-Modified": page.last_modified} if page.last_modified else {}
        return web.Response(body=page.body, headers=headers)

    async def _endless(self, request: web.Request, page: Endless) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        block = b"All work and no play makes a very long page.\n" * 1400  # ~64 KB
        try:
            while page.sent < page.size:
                await response.write(block)
                page.sent += len(block)
            await response.write_eof()
            page.finished = True
        except (ConnectionResetError, ConnectionError):
            pass  # the client hung up: what the size cap is for
        return response

    async def _drip(self, request: web.Request, page: Dripping) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        try:
            while True:
                await response.write(b"still coming ")
                await asyncio.sleep(page.interval)
        except (ConnectionResetError, ConnectionError):
            return response
