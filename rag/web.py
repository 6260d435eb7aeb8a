"""Fetching a web page that a curator wants as a source, without letting the address reach what it should not.

Every hop (the address given and each redirect, followed here, not by httpx) is checked the same way: http(s)
only, no credentials, a length limit, and its host resolved (off the event loop) to addresses that must all be
public unless RAGBOT_INGEST__ALLOW_PRIVATE_URLS allows them. The request then goes to the address that was
checked, not to the name: the URL is rewritten to the IP, the Host header and the TLS server name (httpx's
`sni_hostname` extension, so the certificate is still verified for the name) carry the name. A DNS answer that
changes between the check and the connection (DNS rebinding) therefore cannot send the request elsewhere.
Environment proxies are ignored (`trust_env=False`): a proxy would resolve the name again on its own.

The body is streamed and abandoned past the size cap; only HTML, PDF and plain text are accepted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from email.message import Message
from functools import cache
from typing import TYPE_CHECKING

from rag.errors import UrlSourceError

if TYPE_CHECKING:
    import httpx

    from rag.config import IngestSettings

log = logging.getLogger(__name__)

MAX_URL_CHARS = 2048
# Content type -> the loader that reads it.
CONTENT_KINDS = {"text/html": "html", "application/xhtml+xml": "html", "application/pdf": "pdf", "text/plain": "text"}
_REDIRECTS = {301, 302, 303, 307, 308}
_USER_AGENT = "ragbot-source-fetcher/1 (a curator added this page as a source)"
PRIVATE_SETTING = "RAGBOT_INGEST__ALLOW_PRIVATE_URLS"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    max_bytes: int
    max_redirects: int = 5
    timeout: float = 15.0  # to connect, and for each read
    deadline: float = 60.0  # for the whole fetch: a server dripping a byte at a time cannot hold it forever
    allow_private: bool | tuple[Network, ...] = False  # True: every address; networks: those only

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> FetchPolicy:
        allow = settings.allow_private_urls
        return cls(
            max_bytes=settings.max_file_bytes,
            max_redirects=settings.max_redirects,
            timeout=settings.url_timeout,
            deadline=settings.url_deadline,
            allow_private=allow if isinstance(allow, bool) else tuple(allow),
        )


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # as the curator gave it (what citations link to)
    final_url: str  # after redirects
    kind: str  # html, pdf or text (see CONTENT_KINDS)
    content_type: str
    charset: str
    body: bytes
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True, slots=True)
class NotModified:
    """The server answered 304 to a conditional request: the stored copy is current."""

    url: str


def check_url(url: str) -> httpx.URL:
    """The address parsed, or UrlSourceError saying what is wrong with it (before any network access)."""
    text = url.strip()
    if len(text) > MAX_URL_CHARS:
        raise UrlSourceError(f"the address is {len(text):,} characters long; the limit is {MAX_URL_CHARS:,}")
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise UrlSourceError("the address contains spaces or control characters")
    import httpx  # here, not at the top: importing httpx loads rich, which the core's layers must not pull in

    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UrlSourceError(f"not a valid web address ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise UrlSourceError(f"only http:// and https:// addresses can be sources, not {parsed.scheme or 'this'}")
    if not parsed.host:
        raise UrlSourceError("the address has no host name")
    if parsed.userinfo:
        raise UrlSourceError("the address carries a user name or password; give one without credentials")
    return parsed


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv6 addresses a DNS64 network gives IPv4-only hosts


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for or leads to (mapped, 6to4, Teredo client, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def address_problem(address: Address, allow: bool | tuple[Network, ...]) -> str | None:
    """Why `address` may not be fetched, or None. An IPv6 address carrying an IPv4 one (::ffff:10.0.0.1 is that
    address written as IPv6; 6to4, Teredo and NAT64 addresses lead to it) is judged by the IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and (inner := _embedded_ipv4(address)) is not None:
        problem = address_problem(inner, allow)
        if problem is None or address.ipv4_mapped is not None:
            return problem
        return f"{address} leads to {inner}; {problem}"
    public = address.is_global and not (address.is_multicast or address.is_reserved)
    if public or allow is True or (allow and any(address in net for net in allow if net.version == address.version)):
        return None
    kind = (
        "a loopback"
        if address.is_loopback
        else "a link-local"
        if address.is_link_local
        else "a private"
        if address.is_private
        else "a non-public"
    )
    return f"{address} is {kind} address; such addresses are refused unless {PRIVATE_SETTING} allows them"


async def resolve(host: str, port: int) -> list[Address]:
    """The host's addresses. The loop's getaddrinfo runs in a worker thread: a slow DNS server never blocks it."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlSourceError(f"cannot resolve {host} ({exc})") from None
    found = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not found:
        raise UrlSourceError(f"{host} has no address")
    return found


async def _checked_address(url: httpx.URL, policy: FetchPolicy) -> Address:
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await resolve(url.host, port)
    for address in addresses:  # every answer must pass: a name resolving to one public and one private is refused
        if (problem := address_problem(address, policy.allow_private)) is not None:
            raise UrlSourceError(f"refused {url.host}: {problem}")
    return addresses[0]


def _pinned_request(
    client: httpx.AsyncClient, url: httpx.URL, address: Address, headers: dict[str, str]
) -> httpx.Request:
    host_header = url.netloc.decode("ascii")
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    # Connection: close: a pool keys connections by the URL's host, here the address; another name served from
    # the same address must never reuse a TLS connection verified for this one.
    pinned = {**headers, "Host": host_header, "Connection": "close"}
    request = client.build_request("GET", url.copy_with(host=str(address)), headers=pinned)
    request.extensions.update(extensions)
    return request


def conditional_headers(etag: str = "", last_modified: str = "") -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default context (its CA bundle, SSL_CERT_* ignored as trust_env=False says), built once per process:
    building one reads and parses the bundle (~15 ms of CPU), and every ingest or refresh makes a client."""
    import httpx

    return httpx.create_ssl_context(trust_env=False)


def new_client(policy: FetchPolicy) -> httpx.AsyncClient:
    import httpx

    timeout = httpx.Timeout(policy.timeout, pool=policy.timeout)
    return httpx.AsyncClient(
        verify=_tls_context(),
        timeout=timeout,
        limits=httpx.Limits(max_keepalive_connections=0),  # see _pinned_request: no connection is reused
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": _USER_AGENT},
    )


async def fetch(
    url: str, policy: FetchPolicy, *, etag: str = "", last_modified: str = "", client: httpx.AsyncClient | None = None
) -> Fetched | NotModified:
    """Fetch `url` for the index; UrlSourceError (one line) for anything that keeps it from being a source."""
    import httpx

    own = client is None
    client = client or new_client(policy)
    try:
        async with asyncio.timeout(policy.deadline):
            return await _follow(client, url, policy, conditional_headers(etag, last_modified))
    except TimeoutError:
        raise UrlSourceError(f"the download took longer than {policy.deadline:g} s") from None
    except httpx.TimeoutException:
        raise UrlSourceError(f"the server did not answer within {policy.timeout:g} s") from None
    except (httpx.HTTPError, OSError) as exc:  # refused connection, TLS failure, broken stream
        raise UrlSourceError(f"the download failed ({type(exc).__name__}: {_one_line(exc)})") from None
    finally:
        if own:
            await client.aclose()


async def _follow(
    client: httpx.AsyncClient, url: str, policy: FetchPolicy, headers: dict[str, str]
) -> Fetched | NotModified:
    current = check_url(url)
    for _hop in range(policy.max_redirects + 1):
        address = await _checked_address(current, policy)
        response = await client.send(_pinned_request(client, current, address, headers), stream=True)
        try:
            if response.status_code not in _REDIRECTS:
                return await _accept(response, url, str(current), policy)
            location = response.headers.get("location", "").strip()
        finally:
            await response.aclose()
        if not location:
            raise UrlSourceError(f"the server answered {response.status_code} without saying where to go")
        try:
            current = check_url(str(current.join(location)))
        except UrlSourceError as exc:
            raise UrlSourceError(f"redirected to a refused address: {exc}") from None
        log.debug("redirect %s -> %s", url, current)
    raise UrlSourceError(f"more than {policy.max_redirects} redirects")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or "no detail"


def _media_type(header: str) -> tuple[str, str]:
    """('text/html', 'utf-8') from a Content-Type header; the charset is empty when not given."""
    message = Message()
    message["content-type"] = header
    return message.get_content_type().lower(), str(message.get_param("charset") or "").strip().lower()


async def _accept(response: httpx.Response, url: str, final_url: str, policy: FetchPolicy) -> Fetched | NotModified:
    if response.status_code == 304:
        return NotModified(url)
    if response.status_code != 200:
        reason = response.reason_phrase or ""
        raise UrlSourceError(f"the server answered {response.status_code} {reason}".rstrip())
    header = response.headers.get("content-type", "")
    media, charset = _media_type(header) if header else ("", "")
    if media not in CONTENT_KINDS:
        shown = media or "no content type"
        raise UrlSourceError(f"the page is {shown}; only HTML, PDF and plain text can be sources")
    body = await _read_capped(response, policy.max_bytes)
    return Fetched(
        url=url,
        final_url=final_url,
        kind=CONTENT_KINDS[media],
        content_type=media,
        charset=charset,
        body=body,
        etag=response.headers.get("etag", ""),
        last_modified=response.headers.get("last-modified", ""),
    )


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The (decompressed) body, abandoned as soon as it passes `max_bytes`: a huge page is never held whole."""
    limit = f"the {max_bytes / 1e6:g} MB limit (RAGBOT_INGEST__MAX_FILE_MB)"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UrlSourceError(f"the page is {int(declared) / 1e6:.1f} MB, over {limit}")
    body = bytearray()
    async for part in response.aiter_bytes():
        body += part
        if len(body) > max_bytes:
            raise UrlSourceError(f"the page is larger than {limit}")
    return bytes(body)
