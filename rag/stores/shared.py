"""Whether the index is shared by several processes, and where: decided from the settings alone, without
loading the PostgreSQL driver (the embedded default never imports it)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from rag.config import Settings

_ASYNCPG_SSL = {"true": "require", "require": "require", "false": "disable", "disable": "disable"}


def shared_index_url(settings: Settings) -> str | None:
    """The shared catalog's libpq URL (see shared_catalog_url), or None for one process with its own index."""
    url = settings.database.url
    return None if url is None else shared_catalog_url(url.get_secret_value(), settings.chroma.host)


def shared_catalog_url(database_url: str | None, chroma_host: str | None) -> str | None:
    """The catalog's libpq URL when the index is shared: PostgreSQL and a chroma server. Otherwise None: one
    process with its embedded store keeps the local catalog file, exactly as before."""
    if not database_url or not chroma_host:
        return None
    parts = urlsplit(database_url)
    scheme = parts.scheme.partition("+")[0]
    if scheme not in ("postgresql", "postgres"):
        return None
    # The moderators' database talks asyncpg (an SQLAlchemy URL); the catalog is read from worker threads with
    # psycopg, which takes the plain URL. asyncpg's ?ssl= is libpq's ?sslmode=.
    query = [
        ("sslmode", _ASYNCPG_SSL.get(value.lower(), value)) if key == "ssl" else (key, value)
        for key, value in parse_qsl(parts.query)
    ]
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), ""))
