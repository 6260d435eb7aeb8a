"""Where the pages curators added are kept: the data folder for one process, the shared database when several
processes share one index (each must list, refresh and restore the same pages, with the same stored copy)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from helpers import SettingsFactory
from shared_index import catalog_url, postgres_url

from rag.service import open_url_registry
from rag.url_sources import UrlRegistry, UrlSource, source_id_for_url

__all__ = ["postgres_url"]  # the fixture, used by name

PAGE = "https://example.org/news/export-rules"


def _source(url: str = PAGE, content_hash: str = "a" * 64, etag: str = '"v1"') -> UrlSource:
    return UrlSource(
        url=url,
        source_id=source_id_for_url(url),
        kind="html",
        charset="utf-8",
        content_hash=content_hash,
        fetched_at="2026-12-01T10:00:00+00:00",
        etag=etag,
    )


def _registry(make_settings: SettingsFactory, data_dir: Path, database_url: str | None) -> UrlRegistry:
    shared = {"database": {"url": database_url}, "chroma": {"host": "chroma"}} if database_url else {}
    return open_url_registry(make_settings(data_dir=data_dir, **shared))


@pytest.mark.parametrize("shared", [False, True], ids=["data-folder", "shared-database"])
def test_a_page_is_kept_with_its_copy_refreshed_and_removed(
    make_settings: SettingsFactory, tmp_path: Path, request: pytest.FixtureRequest, shared: bool
) -> None:
    registry = _registry(make_settings, tmp_path / "a", request.getfixturevalue("postgres_url") if shared else None)
    assert registry.all() == [] and registry.get(PAGE) is None
    first = _source()
    registry.save(first, b"<html>first</html>")
    assert registry.get(PAGE) == first and registry.all() == [first]
    assert registry.body(first) == b"<html>first</html>"

    confirmed = replace(first, etag='"v2"', fetched_at="2026-12-02T10:00:00+00:00")
    registry.save(confirmed)  # a refresh found the page unchanged: new validators, same copy
    assert registry.get(PAGE) == confirmed and registry.body(confirmed) == b"<html>first</html>"

    changed = replace(confirmed, content_hash="b" * 64)
    registry.save(changed, b"<html>second</html>")
    assert registry.body(changed) == b"<html>second</html>" and registry.all() == [changed]

    registry.remove(PAGE)
    assert registry.all() == [] and registry.get(PAGE) is None
    registry.close()


def test_processes_sharing_the_index_share_the_pages(
    make_settings: SettingsFactory, tmp_path: Path, postgres_url: str
) -> None:
    """Two processes on two machines (two data folders), one database: a page one added the other refreshes."""
    one = _registry(make_settings, tmp_path / "machine-1", postgres_url)
    other = _registry(make_settings, tmp_path / "machine-2", postgres_url)
    one.save(_source(), b"<html>page</html>")
    [seen] = other.all()
    assert seen.etag == '"v1"' and other.body(seen) == b"<html>page</html>"
    other.remove(PAGE)
    assert one.all() == []
    # Without the shared database, each data folder keeps its own list.
    alone = _registry(make_settings, tmp_path / "machine-3", None)
    alone.save(_source(), b"<html>page</html>")
    assert other.all() == [] and len(alone.all()) == 1
    for registry in (one, other, alone):
        registry.close()


def test_a_damaged_record_is_skipped_and_the_others_load(
    make_settings: SettingsFactory, tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry = _registry(make_settings, tmp_path, postgres_url)
    registry.save(_source(), b"one")
    with psycopg.connect(catalog_url(postgres_url), autocommit=True) as db:
        db.execute(
            "INSERT INTO rag_url_sources (url, record, body) VALUES (%s, %s, %s)",
            ("https://example.org/broken", '{"url": "https://example.org/broken"}', b""),
        )
    assert [s.url for s in registry.all()] == [PAGE]
    assert "cannot read the URL source record of https://example.org/broken" in caplog.text
    registry.close()
