"""Dependencies of the route handlers, as ``Annotated`` aliases; tests override them.

Each reads one part of the app's components (``service.components``); while they are
not built (the app is starting or stopping), ``NotReady``.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Query, Request

from indexes import Embedder, Scope
from service.answering import Answerer
from service.components import Components, components_of
from service.documents import Documents
from service.errors import NotReady
from service.feedback import AnswerJournal
from service.generation.base import Generator
from service.jobs import Jobs
from service.library import Library
from service.links import SourceLinks
from service.metrics import Metrics
from service.schemas import SearchScope
from service.settings import Settings
from service.web.auth import Caller, Keyring, require_admin
from service.web.ratelimit import RateLimiter


def get_components(request: Request) -> Components:
    return components_of(request.app)


ComponentsDep = Annotated[Components, Depends(get_components)]


def get_settings(components: ComponentsDep) -> Settings:
    return components.settings


def get_library(components: ComponentsDep) -> Library:
    return components.library


def get_answerer(components: ComponentsDep) -> Answerer:
    return components.answerer


def get_embedder(components: ComponentsDep) -> Embedder:
    return components.embedder


def get_generator(components: ComponentsDep) -> Generator:
    return components.generator


def get_links(components: ComponentsDep) -> SourceLinks:
    return components.links


def get_journal(components: ComponentsDep) -> AnswerJournal:
    return components.journal


def get_metrics(components: ComponentsDep) -> Metrics:
    return components.metrics


def get_documents(components: ComponentsDep) -> Documents:
    if components.documents is None:
        raise NotReady("the service is still starting (documents not loaded)")
    return components.documents


def get_jobs(components: ComponentsDep) -> Jobs:
    if components.jobs is None:
        raise NotReady("the service is still starting (jobs not loaded)")
    return components.jobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
LibraryDep = Annotated[Library, Depends(get_library)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
EmbedderDep = Annotated[Embedder, Depends(get_embedder)]
GeneratorDep = Annotated[Generator, Depends(get_generator)]
LinksDep = Annotated[SourceLinks, Depends(get_links)]
JournalDep = Annotated[AnswerJournal, Depends(get_journal)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
DocumentsDep = Annotated[Documents, Depends(get_documents)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]


def get_collection(
    settings: SettingsDep,
    collection: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="Collection (default: the configured one)."),
    ] = None,
) -> str:
    """The collection named by the ``collection`` query parameter, else the default one."""
    return settings.collection_for(collection)


CollectionDep = Annotated[str, Depends(get_collection)]


def _identify(request: Request, keyring: Keyring, *, require_key: bool) -> Caller:
    address = request.client.host if request.client else "unknown"
    return keyring.identify(request.headers.get("authorization"), address, require_key=require_key)


async def get_caller(request: Request, settings: SettingsDep, components: ComponentsDep) -> Caller:
    """Whoever asks: a key holder, or an address where asking is open."""
    return _identify(request, components.keyring, require_key=settings.require_ask_key)


CallerDep = Annotated[Caller, Depends(get_caller)]


def _limited(caller: Caller, limiter: RateLimiter | None) -> Caller:
    if limiter is not None:
        limiter.check(caller.identity)
    return caller


async def get_limited_caller(caller: CallerDep, components: ComponentsDep) -> Caller:
    """The caller, once the rate limit has let its question through."""
    return _limited(caller, components.limiter)


async def get_rater(caller: CallerDep, components: ComponentsDep) -> Caller:
    """The caller, once the feedback's own rate limit has let its rating through."""
    return _limited(caller, components.feedback_limiter)


async def get_admin(request: Request, components: ComponentsDep) -> Caller:
    return require_admin(_identify(request, components.keyring, require_key=True))


AskerDep = Annotated[Caller, Depends(get_limited_caller)]
RaterDep = Annotated[Caller, Depends(get_rater)]
AdminDep = Annotated[Caller, Depends(get_admin)]


async def request_scope(
    library: Library, links: SourceLinks, collection: str, wanted: SearchScope | None
) -> Scope | None:
    """The index's scope for a request's ``scope`` (a ``page`` resolved to the documents
    published there); ``None`` for the whole collection."""
    if wanted is None:
        return None
    reader = await to_thread.run_sync(library.reader, collection)
    return await to_thread.run_sync(lambda: links.resolve(collection, wanted, reader))
