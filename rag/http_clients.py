"""The HTTP clients handed to the openai SDK: its own defaults, with one TLS context per process.

The SDK builds a fresh TLS context for every client it makes, which reads and parses the CA bundle (~20 ms of
CPU each time). A process makes several model clients (the chat model, its fallback, an embedding endpoint;
each `ragbot` command makes its own), so they share one, built the SDK's way on first use."""

from __future__ import annotations

import ssl
from functools import cache

import httpx2  # the SDK's HTTP library; openai.DefaultHttpxClient and DefaultAsyncHttpxClient are its clients
import openai


@cache
def _tls_context() -> ssl.SSLContext:
    # What the SDK's client builds when given no context: the system's CA bundle, or the one SSL_CERT_FILE or
    # SSL_CERT_DIR names (read here, once).
    return httpx2.create_ssl_context()


def async_http_client() -> httpx2.AsyncClient:
    """A client with the SDK's defaults (timeouts, connection limits, redirects) and the shared TLS context."""
    return openai.DefaultAsyncHttpxClient(verify=_tls_context())


def http_client() -> httpx2.Client:
    """The blocking twin of `async_http_client`."""
    return openai.DefaultHttpxClient(verify=_tls_context())
