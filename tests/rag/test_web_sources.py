"""URL sources through the service: a page becomes citable with its own address, refreshes re-index only what
changed, removal and failures leave the index as it was. Real index, real model, a loopback web site."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.web_site import Endless, WebSite
from helpers import ARTICLE_ID, SettingsFactory, make_pdf
from web_pages import (
    ACT_DATE,
    ACT_FACT,
    ACT_PUBLISHER,
    ACT_QUESTION,
    ACT_TITLE,
    NOTES_TEXT,
    REPORT_PAGES,
    act_html,
)

from rag.embeddings import Embedder
from rag.service import RagService, build_service
from rag.types import Answer

LOOPBACK_ONLY = {"allow_private_urls": ["127.0.0.1/32"], "url_timeout": 5, "max_file_mb": 1}


@pytest.fixture
async def site() -> AsyncIterator[WebSite]:
    async with WebSite() as served:
        yield served


@pytest.fixture
async def service(
    make_settings: SettingsFactory, indexed_article: Path, embedder: Embedder
) -> AsyncIterator[RagService]:
    made = build_service(make_settings(ingest=LOOPBACK_ONLY), embedder=embedder)  # no model: extractive answers
    yield made
    await made.aclose()


def _state(service: RagService) -> tuple[int, int, set[str]]:
    catalog = service.index.catalog
    return catalog.generation, catalog.chunk_count(), {d.source.id for d in catalog.documents()}


def _cites(answer: Answer, url: str) -> bool:
    return any(c.url == url for c in answer.citations)


async def test_an_added_page_is_cited_with_its_address(service: RagService, site: WebSite) -> None:
    url = site.page("/news/act.html", act_html())
    before = await service.answer(ACT_QUESTION)
    assert ACT_FACT not in before.text and not _cites(before, url)

    added = await service.add_url(url)
    assert added.ok and added.outcome == "added" and added.title == ACT_TITLE and added.chunks >= 1
    assert added.line() == f"{url}: added — “{ACT_TITLE}”, {added.chunks} passage{'s' * (added.chunks > 1)}"
    answer = await service.answer(ACT_QUESTION)
    assert not answer.refused and ACT_FACT in answer.text
    [citation] = [c for c in answer.citations if c.url == url]
    assert (citation.title, citation.publisher, citation.published) == (ACT_TITLE, ACT_PUBLISHER, ACT_DATE)

    listed = {d.source.id: d for d in await service.sources()}
    assert ARTICLE_ID in listed and listed[added.source_id].source.url == url
    assert listed[added.source_id].extra == {"origin": "url"} and listed[ARTICLE_ID].extra.get("origin") is None


async def test_pdf_and_text_pages_become_sources(service: RagService, site: WebSite) -> None:
    report = make_pdf(REPORT_PAGES, title="Compute report")
    pdf = await service.add_url(site.page("/report.pdf", report, "application/pdf"))
    text = await service.add_url(site.page("/notes.txt", NOTES_TEXT, "text/plain; charset=utf-8"))
    assert (pdf.outcome, pdf.title) == ("added", "Compute report")
    assert (text.outcome, text.title) == ("added", "Notes")  # plain text has no title: the address names it
    kinds = {d.source.id: d.source.kind for d in await service.sources()}
    assert kinds[pdf.source_id] == "pdf" and kinds[text.source_id] == "text"
    answer = await service.answer("Where must Veltania chatbot vendors enter their models before launch?")
    assert _cites(answer, site.url("/notes.txt")) and "public chatbot registry" in answer.text


async def test_a_page_without_a_declared_charset_is_decoded_by_its_bytes(service: RagService, site: WebSite) -> None:
    text = "Veltania's café owners asked whether the chatbot levy applies to menus; the ministry said: non."
    url = site.page("/cafe.txt", text.encode("cp1252"), "text/plain")
    assert (await service.add_url(url)).ok
    answer = await service.answer("Does the Veltania chatbot levy apply to café menus?")
    assert _cites(answer, url) and "café owners" in answer.text


@pytest.mark.parametrize(
    ("path", "content_type", "reason"),
    [
        ("/picture.png", "image/png", "the page is image/png; only HTML, PDF and plain text can be sources"),
        ("/huge.txt", None, "the page is larger than the 1 MB limit (RAGBOT_INGEST__MAX_FILE_MB)"),
        ("/missing", None, "the server answered 404 Not Found"),
        ("/empty.html", "text/html", "no main text found in the HTML"),
    ],
)
async def test_a_failed_page_leaves_the_index_as_it_was(
    service: RagService, site: WebSite, path: str, content_type: str | None, reason: str
) -> None:
    if path == "/huge.txt":
        site.pages[path] = Endless(50_000_000)
    elif content_type is not None:
        site.page(path, b"\x89PNG\r\n\x1a\n" if "png" in content_type else b"<html><body></body></html>", content_type)
    before, answer = _state(service), await service.answer(ACT_QUESTION)
    failed = await service.add_url(site.url(path))
    assert not failed.ok and failed.line() == f"{site.url(path)}: failed — {reason}; nothing was changed"
    assert _state(service) == before
    assert await service.answer(ACT_QUESTION) == answer
    assert not list((service.index.data_dir / "url_sources").glob("*.json"))  # nothing recorded either


async def test_a_redirect_to_a_private_address_changes_nothing(service: RagService, site: WebSite) -> None:
    before = _state(service)
    failed = await service.add_url(site.redirect("/go", "http://169.254.169.254/latest/meta-data/"))
    assert failed.detail.startswith("refused 169.254.169.254: 169.254.169.254 is a link-local address")
    assert _state(service) == before


async def test_refresh_asks_with_validators_and_reindexes_only_changes(service: RagService, site: WebSite) -> None:
    act = site.page("/act.html", act_html(), etag='"v1"')
    notes = site.page("/notes.txt", NOTES_TEXT, "text/plain", last_modified="Fri, 14 Mar 2025 09:00:00 GMT")
    gone = site.page("/gone.txt", "Veltania's chatbot levy is two percent.", "text/plain")
    for url in (act, notes, gone):
        assert (await service.add_url(url)).outcome == "added"
    generation = service.index.catalog.generation

    site.page("/act.html", act_html(), etag='"v1"')  # same validator: the server answers 304
    site.page("/notes.txt", NOTES_TEXT.replace("before launch", "thirty days before launch"), "text/plain")
    del site.pages["/gone.txt"]
    results = {r.target: r for r in await service.refresh_urls()}
    assert results[act].line() == f"{act}: unchanged — not modified (304)"
    assert site.requested("/act.html")[-1]["If-None-Match"] == '"v1"'
    assert site.requested("/notes.txt")[-1]["If-Modified-Since"] == "Fri, 14 Mar 2025 09:00:00 GMT"
    assert results[notes].outcome == "updated"
    assert results[gone].line() == f"{gone}: failed — the server answered 404 Not Found; the indexed copy is kept"
    assert service.index.catalog.generation == generation + 1  # one document changed, one swap

    answer = await service.answer("How long before launch must Veltania chatbot models be in the public registry?")
    assert "thirty days before launch" in answer.text and _cites(answer, notes)
    kept = await service.answer("What is Veltania's chatbot levy?")
    assert _cites(kept, gone)


async def test_adding_a_known_page_again_reports_it_unchanged(service: RagService, site: WebSite) -> None:
    url = site.page("/act.html", act_html())
    await service.add_url(url)
    generation = service.index.catalog.generation
    again = await service.add_url(url)
    assert again.line() == f"{url}: unchanged — the page has not changed"
    assert service.index.catalog.generation == generation
    site.page("/act.html", act_html("Vendors may appeal to the audit tribunal within sixty days."))
    assert (await service.add_url(url)).outcome == "updated"


async def test_remove_takes_a_page_out_and_refuses_corpus_files(service: RagService, site: WebSite) -> None:
    url = site.page("/act.html", act_html())
    added = await service.add_url(url)
    before_remove = await service.answer(ACT_QUESTION)
    assert _cites(before_remove, url)

    removed = await service.remove_source(added.source_id)  # by id, or by address
    assert removed.line() == f"{url}: removed — it is no longer cited" and removed.chunks == added.chunks
    assert not _cites(await service.answer(ACT_QUESTION), url)
    assert added.source_id not in {d.source.id for d in await service.sources()}
    assert (await service.remove_source(url)).detail.startswith("no URL source has this address or id")
    other = await service.add_url(site.page("/notes.txt", NOTES_TEXT, "text/plain"))
    for recorded in (service.index.data_dir / "url_sources").iterdir():  # as if another process had added it
        recorded.unlink()
    assert (await service.remove_source(site.url("/notes.txt"))).outcome == "removed"
    assert other.source_id not in {d.source.id for d in await service.sources()}
    corpus = await service.remove_source(ARTICLE_ID)
    assert not corpus.ok and corpus.detail == "this is a file of the curated corpus: delete the file, then reindex"


async def test_a_rebuild_keeps_url_sources_without_downloading_them(service: RagService, site: WebSite) -> None:
    url = site.page("/act.html", act_html())
    added = await service.add_url(url)
    requests = len(site.requests)
    report = service.ingest_sync(rebuild=True)
    assert url in report.added and len(site.requests) == requests
    assert added.source_id in {d.source.id for d in await service.sources()}
    assert _cites(await service.answer(ACT_QUESTION), url)
    unchanged = service.ingest_sync()  # a corpus ingest leaves pages alone
    assert url not in unchanged.added + unchanged.updated + [p for p, _ in unchanged.failed]
    assert [r.source.id for r in service.index.catalog.documents()].count(added.source_id) == 1


async def test_a_page_that_cannot_be_recorded_is_taken_out_again(service: RagService, site: WebSite) -> None:
    (service.index.data_dir / "url_sources").write_text("a file where the folder should be")
    chunks, ids = service.index.catalog.chunk_count(), {d.source.id for d in await service.sources()}
    failed = await service.add_url(site.page("/act.html", act_html()))
    assert not failed.ok and failed.detail.startswith("cannot store the page in the data folder (")
    assert service.index.catalog.chunk_count() == chunks and {d.source.id for d in await service.sources()} == ids
    assert not _cites(await service.answer(ACT_QUESTION), site.url("/act.html"))
