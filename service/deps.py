"""Dependencies of the route handlers, as ``Annotated`` aliases; tests override them."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request

from indexes import Embedder, Scope
from service.answering import Answerer
from service.auth import Caller, Keyring, require_admin
from service.documents import Documents
from service.errors import NotReady
from service.jobs import Jobs
from service.library import Library
from service.links import SourceLinks
from service.metrics import Metrics
from service.ratelimit import RateLimiter
from service.schemas import SearchScope
from service.settings import Settings


def _state(request: Request, name: str) -> object:
    value = getattr(request.app.state, name, None)
    if value is None:
        raise NotReady(f"the service is still starting ({name} not loaded)")
    return value


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_library(request: Request) -> Library:
    return _state(request, "library")  # type: ignore[return-value]


def get_answerer(request: Request) -> Answerer:
    return _state(request, "answerer")  # type: ignore[return-value]


def get_embedder(request: Request) -> Embedder:
    return _state(request, "embedder")  # type: ignore[return-value]


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def get_documents(request: Request) -> Documents:
    return _state(request, "documents")  # type: ignore[return-value]


def get_jobs(request: Request) -> Jobs:
    return _state(request, "jobs")  # type: ignore[return-value]


SettingsDep = Annotated[Settings, Depends(get_settings)]
LibraryDep = Annotated[Library, Depends(get_library)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
EmbedderDep = Annotated[Embedder, Depends(get_embedder)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
DocumentsDep = Annotated[Documents, Depends(get_documents)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]


def _identify(request: Request, *, require_key: bool) -> Caller:
    keyring: Keyring = request.app.state.keyring
    address = request.client.host if request.client else "unknown"
    return keyring.identify(request.headers.get("authorization"), address, require_key=require_key)


async def get_caller(request: Request, settings: SettingsDep) -> Caller:
    """Whoever asks: a key holder, or an address where asking is open."""
    return _identify(request, require_key=settings.require_ask_key)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_limited_caller(request: Request, caller: CallerDep) -> Caller:
    """The caller, once the rate limit has let its question through."""
    limiter: RateLimiter | None = request.app.state.limiter
    if limiter is not None:
        limiter.check(caller.identity)
    return caller


async def get_admin(request: Request) -> Caller:
    return require_admin(_identify(request, require_key=True))


AskerDep = Annotated[Caller, Depends(get_limited_caller)]
AdminDep = Annotated[Caller, Depends(get_admin)]


async def request_scope(
    request: Request, collection: str, wanted: SearchScope | None
) -> Scope | None:
    """The index's scope for a request's ``scope`` (a ``page`` resolved to the documents
    published there); ``None`` for the whole collection."""
    if wanted is None:
        return None
    reader = await to_thread.run_sync(get_library(request).reader, collection)
    links: SourceLinks = request.app.state.links
    return await to_thread.run_sync(lambda: links.resolve(collection, wanted, reader))
