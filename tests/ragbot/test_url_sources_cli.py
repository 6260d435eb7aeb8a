"""`ragbot ingest URL`, `ragbot ingest --refresh`, `ragbot sources` and `ragbot sources remove`, run as a curator
runs them, against a loopback web site. The command blocks, so it runs in a thread while the site serves."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.web_site import Endless, WebSite
from helpers import ARTICLE_ID, run_ragbot
from web_pages import ACT_FACT, ACT_QUESTION, ACT_TITLE, act_html

ALLOW_LOOPBACK = {"RAGBOT_INGEST__ALLOW_PRIVATE_URLS": '["127.0.0.1/32"]', "RAGBOT_INGEST__URL_TIMEOUT": "5"}


@pytest.fixture
async def site() -> AsyncIterator[WebSite]:
    async with WebSite() as served:
        yield served


async def _ragbot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_ragbot, args, env | ALLOW_LOOPBACK, cwd)


async def _ask(env: dict[str, str], cwd: Path) -> dict[str, object]:
    result = await _ragbot(["ask", "--json", ACT_QUESTION], env, cwd)
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def _cited_urls(answer: dict[str, object]) -> list[str]:
    citations = answer["citations"]
    assert isinstance(citations, list)
    return [c["url"] for c in citations]


async def test_an_ingested_page_is_cited_then_removed(env: dict[str, str], tmp_path: Path, site: WebSite) -> None:
    url = site.page("/news/act.html", act_html(), etag='"v1"')
    added = await _ragbot(["ingest", url], env, tmp_path)  # a first run: the corpus is indexed too
    assert added.returncode == 0, added.stderr
    assert f"added {url}: “{ACT_TITLE}”, " in added.stderr and "Traceback" not in added.stderr

    answer = await _ask(env, tmp_path)
    assert url in _cited_urls(answer) and ACT_FACT in str(answer["answer"])

    listing = await _ragbot(["sources"], env, tmp_path)
    rows = {line.split("\t")[0]: line.split("\t") for line in listing.stdout.splitlines()[1:]}
    assert listing.stdout.splitlines()[0].split("\t")[-1] == "origin"
    assert rows[ARTICLE_ID][-1] == "corpus"
    [page_id] = [i for i, row in rows.items() if row[-1] == "url"]
    assert rows[page_id][1] == ACT_TITLE

    refresh = await _ragbot(["ingest", "--refresh"], env, tmp_path)
    assert refresh.returncode == 0 and f"unchanged {url}: not modified (304)" in refresh.stderr

    removed = await _ragbot(["sources", "remove", url], env, tmp_path)
    assert removed.returncode == 0 and f"removed {url}: it is no longer cited" in removed.stderr
    assert url not in _cited_urls(await _ask(env, tmp_path))
    again = await _ragbot(["sources", "remove", page_id], env, tmp_path)
    assert again.returncode == 1 and "no URL source has this address or id" in again.stderr


@pytest.mark.usefixtures("indexed_article")  # the corpus is indexed already; the command is about the page
@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/picture.png", "the page is image/png; only HTML, PDF and plain text can be sources"),
        ("/huge.txt", "the page is larger than the 4 MB limit (RAGBOT_INGEST__MAX_FILE_MB)"),
        ("/private", "refused 10.0.0.1: 10.0.0.1 is a private address"),
    ],
)
async def test_a_failed_url_is_one_line_and_changes_nothing(
    env: dict[str, str], tmp_path: Path, site: WebSite, path: str, reason: str
) -> None:
    site.page("/picture.png", b"\x89PNG\r\n\x1a\n", "image/png")
    site.pages["/huge.txt"] = Endless(50_000_000)
    site.redirect("/private", "http://10.0.0.1/admin")
    assert (await _ragbot(["ingest"], env, tmp_path)).returncode == 0
    before = (await _ragbot(["sources"], env, tmp_path)).stdout, await _ask(env, tmp_path)

    failed = await _ragbot(["ingest", site.url(path)], env, tmp_path)
    assert failed.returncode == 1
    [line] = failed.stderr.strip().splitlines()
    assert line.startswith(f"failed {site.url(path)}: {reason}") and line.endswith("; nothing was changed")
    assert ((await _ragbot(["sources"], env, tmp_path)).stdout, await _ask(env, tmp_path)) == before


@pytest.mark.usefixtures("indexed_article")
async def test_private_addresses_are_refused_unless_allowed(env: dict[str, str], tmp_path: Path, site: WebSite) -> None:
    url = site.page("/act.html", act_html())
    refused = await asyncio.to_thread(run_ragbot, ["ingest", url], env, tmp_path)  # the default: no private hosts
    assert refused.returncode == 1 and "RAGBOT_INGEST__ALLOW_PRIVATE_URLS" in refused.stderr
    assert site.requests == []
    scheme = await _ragbot(["ingest", "ftp://example.org/act.txt"], env, tmp_path)
    assert scheme.returncode == 1
    assert "only http:// and https:// addresses can be sources, not ftp" in scheme.stderr
