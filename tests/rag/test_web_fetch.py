"""Fetching a curator's URL against a loopback web site: what is accepted, and everything that is refused."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest
import trustme
from aiohttp import web
from fakes.web_site import Dripping, Endless, WebSite
from helpers import make_pdf
from web_pages import REPORT_PAGES, act_html

from rag.errors import UrlSourceError
from rag.web import Fetched, FetchPolicy, NotModified, address_problem, check_url, fetch, resolve

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)
POLICY = FetchPolicy(max_bytes=1_000_000, timeout=5, deadline=20, allow_private=LOOPBACK)


@pytest.fixture
async def site() -> AsyncIterator[WebSite]:
    async with WebSite() as served:
        yield served


async def _refused(url: str, policy: FetchPolicy = POLICY) -> str:
    with pytest.raises(UrlSourceError) as caught:
        await fetch(url, policy)
    return str(caught.value)


async def test_an_html_page_comes_with_its_validators(site: WebSite) -> None:
    url = site.page("/act.html", act_html(), etag='"v1"', last_modified="Fri, 14 Mar 2025 09:00:00 GMT")
    page = await fetch(url, POLICY)
    assert isinstance(page, Fetched)
    assert (page.kind, page.content_type, page.charset) == ("html", "text/html", "utf-8")
    assert page.etag == '"v1"' and page.last_modified == "Fri, 14 Mar 2025 09:00:00 GMT"
    assert page.body == act_html().encode() and page.url == page.final_url == url
    [headers] = site.requested("/act.html")
    assert headers["Host"] == url.split("/")[2]  # the name travels in Host; the connection goes to its address


async def test_pdf_and_plain_text_are_accepted(site: WebSite) -> None:
    pdf = await fetch(site.page("/report.pdf", make_pdf(REPORT_PAGES), "application/pdf"), POLICY)
    text = await fetch(site.page("/notes.txt", "notes", "text/plain; charset=iso-8859-1"), POLICY)
    assert isinstance(pdf, Fetched) and pdf.kind == "pdf" and pdf.body.startswith(b"%PDF")
    assert isinstance(text, Fetched) and (text.kind, text.charset) == ("text", "iso-8859-1")


async def test_a_conditional_request_gets_not_modified(site: WebSite) -> None:
    url = site.page("/act.html", act_html(), etag='"v1"')
    assert await fetch(url, POLICY, etag='"v1"') == NotModified(url)
    assert site.requested("/act.html")[0]["If-None-Match"] == '"v1"'


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [("image/png", "image/png"), ("application/octet-stream", "application/octet-stream"), ("", "no content type")],
)
async def test_other_content_types_are_refused_by_name(site: WebSite, content_type: str, shown: str) -> None:
    url = site.page("/picture", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, content_type)
    message = await _refused(url)
    assert message == f"the page is {shown}; only HTML, PDF and plain text can be sources"


async def test_a_50_mb_body_is_abandoned_past_the_cap(site: WebSite) -> None:
    huge = Endless(50_000_000)
    site.pages["/huge.txt"] = huge
    message = await _refused(site.url("/huge.txt"))
    assert message == "the page is larger than the 1 MB limit (RAGBOT_INGEST__MAX_FILE_MB)"
    await asyncio.sleep(0.2)  # the server notices the client hung up
    assert not huge.finished and huge.sent < 10_000_000  # what socket buffers hold, not the whole body


async def test_a_declared_length_over_the_cap_is_refused_before_reading(site: WebSite) -> None:
    url = site.page("/big.txt", b"x" * 2_000_000, "text/plain")
    assert await _refused(url) == "the page is 2.0 MB, over the 1 MB limit (RAGBOT_INGEST__MAX_FILE_MB)"


async def test_a_page_dripping_forever_hits_the_deadline(site: WebSite) -> None:
    site.pages["/slow"] = Dripping(0.2)  # every read is quick: only the whole-download deadline stops it
    policy = FetchPolicy(max_bytes=1_000_000, timeout=1, deadline=1.5, allow_private=LOOPBACK)
    assert await _refused(site.url("/slow"), policy) == "the download took longer than 1.5 s"


async def test_redirects_are_followed_a_limited_number_of_times(site: WebSite) -> None:
    target = site.page("/act.html", act_html())
    moved = site.redirect("/old", "/act.html")  # relative, as servers often send
    page = await fetch(moved, POLICY)
    assert isinstance(page, Fetched) and page.url == moved and page.final_url == target
    for n in range(10):
        site.redirect(f"/loop/{n}", f"/loop/{n + 1}")
    assert await _refused(site.url("/loop/0")) == "more than 5 redirects"
    assert len(site.requested("/loop/5")) == 1 and not site.requested("/loop/6")


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.2", "a loopback"),
        ("10.0.0.1", "a private"),
        ("169.254.169.254", "a link-local"),
        ("[::1]", "a loopback"),
        ("[::ffff:10.0.0.1]", "a private"),  # IPv4 written as IPv6
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(site: WebSite, host: str, kind: str) -> None:
    url = site.redirect("/go", f"http://{host}:{site.port}/act.html")
    message = await _refused(url)
    bare = host.strip("[]").removeprefix("::ffff:")
    assert message == (
        f"refused {host.strip('[]')}: {bare} is {kind} address; such addresses are refused unless"
        " RAGBOT_INGEST__ALLOW_PRIVATE_URLS allows them"
    )


async def test_private_addresses_are_refused_by_default_before_any_request(site: WebSite) -> None:
    url = site.page("/act.html", act_html())
    message = await _refused(url, FetchPolicy(max_bytes=1_000_000))
    assert message.startswith("refused 127.0.0.1: 127.0.0.1 is a loopback address")
    assert site.requests == []  # nothing was sent
    allowed = await fetch(url, FetchPolicy(max_bytes=1_000_000, allow_private=True))
    assert isinstance(allowed, Fetched)


async def test_server_errors_and_unreachable_hosts_are_one_line(site: WebSite) -> None:
    assert await _refused(site.url("/missing")) == "the server answered 404 Not Found"
    async with WebSite() as gone:
        closed = gone.url("/")
    message = await _refused(closed)
    assert message.startswith("the download failed (ConnectError") and "\n" not in message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/file.txt", "only http:// and https:// addresses can be sources, not ftp"),
        ("file:///etc/passwd", "only http:// and https:// addresses can be sources, not file"),
        ("https://admin:hunter2@example.org/", "the address carries a user name or password"),
        ("https://example.org/a b", "the address contains spaces or control characters"),
        ("https://example.org/" + "a" * 2100, "the address is 2,120 characters long; the limit is 2,048"),
        ("example.org/page", "only http:// and https:// addresses can be sources"),
    ],
)
def test_bad_addresses_are_refused_before_any_network_access(url: str, message: str) -> None:
    with pytest.raises(UrlSourceError) as caught:
        check_url(url)
    assert str(caught.value).startswith(message)


def test_allowed_networks_are_exact() -> None:
    ip = ipaddress.ip_address
    assert address_problem(ip("93.184.216.34"), False) is None
    assert address_problem(ip("127.0.0.1"), LOOPBACK) is None
    assert address_problem(ip("::ffff:127.0.0.1"), LOOPBACK) is None  # the same address, written as IPv6
    assert address_problem(ip("127.0.0.2"), LOOPBACK) is not None
    assert address_problem(ip("::1"), LOOPBACK) is not None
    assert address_problem(ip("0.0.0.0"), False) is not None
    assert address_problem(ip("224.0.0.1"), False) is not None  # multicast
    assert address_problem(ip("10.0.0.1"), True) is None
    # IPv6 addresses that lead to an IPv4 one are judged by it: 6to4, Teredo (client), NAT64.
    for carrier in ("2002:a00:1::1", "2001:0:4136:e378:8000:63bf:f5ff:fffe", "64:ff9b::a00:1"):
        assert str(address_problem(ip(carrier), LOOPBACK)).startswith(
            f"{carrier} leads to 10.0.0.1; 10.0.0.1 is a private"
        )
    assert address_problem(ip("64:ff9b::5db8:d822"), False) is None  # NAT64 of a public address: fine
    assert address_problem(ip("::a00:1"), False) is not None  # IPv4-compatible (reserved), never routed


async def test_https_to_the_checked_address_still_verifies_the_name() -> None:
    """The connection goes to the address that was checked, yet the certificate is verified for the host name
    (sent as the TLS server name): pinning does not weaken TLS. The second fetch, to the same address spelled as an
    IP, must not reuse the connection verified for "localhost" (both are pooled under the address)."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    [address, *_] = await resolve("localhost", 443)  # where fetch will connect: the first address, checked
    app = web.Application()
    app.router.add_get("/", _echo_host)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, str(address), 0, ssl_context=server_context).start()
    port = int(runner.addresses[0][1])
    policy = FetchPolicy(max_bytes=1_000_000, timeout=5, deadline=20, allow_private=True)
    try:
        async with httpx.AsyncClient(verify=client_context, trust_env=False) as client:
            page = await fetch(f"https://localhost:{port}/", policy, client=client)
            assert isinstance(page, Fetched) and page.body == f"Host: localhost:{port}".encode()
            with pytest.raises(UrlSourceError) as caught:
                await fetch(f"https://{_host(address)}:{port}/", policy, client=client)
            assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    finally:
        await runner.cleanup()


async def test_a_certificate_no_known_authority_signed_is_refused() -> None:
    """fetch's own client verifies certificates (against httpx's CA bundle, through one TLS context per process),
    the first time and every time after."""
    served = WebSite()
    served.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(served.tls)
    policy = FetchPolicy(max_bytes=1_000_000, timeout=5, deadline=20, allow_private=True)
    async with served:
        url = served.page("/act.html", act_html())
        assert url.startswith("https://")
        for _ in range(2):
            with pytest.raises(UrlSourceError, match="CERTIFICATE_VERIFY_FAILED"):
                await fetch(url, policy)
    assert served.requests == []  # refused during the handshake


def _host(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return f"[{address}]" if address.version == 6 else str(address)


async def _echo_host(request: web.Request) -> web.Response:
    return web.Response(text=f"Host: {request.headers['Host']}", content_type="text/plain")
