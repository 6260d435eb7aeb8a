"""The wiring, in one place: opens the database and the service in one `async with` stack and closes them in
reverse order, whatever happens in between."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.index import open_index
from rag.observe import NULL_OBSERVER, Observer
from rag.service import RagService, build_service

if TYPE_CHECKING:
    from curation.db import Database
    from rag.config import Settings
    from rag.llm import ChatModel


@dataclass(frozen=True, slots=True)
class App:
    """What the entry points work with: the question-answering service and the moderators' database."""

    service: RagService
    db: Database


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    from curation.db import Database, resolve_url  # SQLAlchemy loads only for the commands that use the database

    db = await Database.open(resolve_url(settings.data_dir, settings.database.url), echo=settings.database.echo)
    try:
        yield db
    finally:
        await db.close()


@asynccontextmanager
async def open_service(
    settings: Settings,
    *,
    chat: ChatModel | None = None,
    db: Database | None = None,
    observer: Observer = NULL_OBSERVER,
) -> AsyncIterator[RagService]:
    """The service on the index under the data dir; with a database, its FAQ entries answer first and its answer
    log holds each server's token spend (for RAGBOT_LLM__DAILY_TOKENS_PER_GUILD)."""
    index = open_index(settings)
    faqs = None
    if db is not None:
        from curation.faq import FaqBook

        faqs = FaqBook(db, index.embedder, settings.faq.threshold)
    service = build_service(settings, index=index, chat=chat, faqs=faqs, spend=db, observer=observer)
    try:
        yield service
    finally:
        await service.aclose()


@asynccontextmanager
async def open_app(
    settings: Settings, *, chat: ChatModel | None = None, observer: Observer = NULL_OBSERVER
) -> AsyncIterator[App]:
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(open_database(settings))
        service = await stack.enter_async_context(open_service(settings, chat=chat, db=db, observer=observer))
        yield App(service=service, db=db)
