"""Passages for the framework adapters: from an index in process, or a service over HTTP.

Both searchers return the service's own :class:`~service.schemas.SearchHit`, so a
retriever sees the same passages, metadata and scores as ``POST /v1/search``.
Queries are checked against the same bounds as that endpoint (:class:`SearchRequest`):
an empty query or a ``k`` outside 1-50 raises pydantic's ``ValidationError``.
Errors a service answers with raise :class:`SyllabusError`; a missing index raises
the index layer's :class:`~indexes.IndexNotFound`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from indexes import DataRoot, Embedder, IndexReader
from service.schemas import ErrorBody, SearchHit, SearchRequest, SearchResponse
from service.settings import Settings


class SyllabusError(Exception):
    """A Syllabus service answered a search with an error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Syllabus answered {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def metadata(hit: SearchHit) -> dict[str, Any]:
    """What both adapters attach to a passage: where it comes from and how it ranked."""
    return hit.model_dump(exclude={"text"})


class Searcher(ABC):
    """The ``k`` best passages for a query, best first."""

    def search(self, query: str, k: int) -> list[SearchHit]:
        return self._search(SearchRequest(query=query, top_k=k))

    async def asearch(self, query: str, k: int) -> list[SearchHit]:
        return await self._asearch(SearchRequest(query=query, top_k=k))

    @abstractmethod
    def _search(self, request: SearchRequest) -> list[SearchHit]: ...

    async def _asearch(self, request: SearchRequest) -> list[SearchHit]:
        return await asyncio.to_thread(self._search, request)


class LocalSearcher(Searcher):
    """Searches one index directory in this process; follows newly published versions."""

    def __init__(self, reader: IndexReader) -> None:
        self.reader = reader

    @classmethod
    def open(
        cls,
        index: Path | str | None = None,
        *,
        collection: str | None = None,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> LocalSearcher:
        """The index directory ``index``, or else ``collection`` under ``SYLLABUS_DATA_DIR``.

        The embedder and fusion weights come from ``settings`` (default: the environment).
        """
        settings = settings or Settings()
        if index is None:
            name = settings.collection_for(collection)
            index = DataRoot(settings.data_dir).existing(name).path
        embedder = embedder or settings.embedder()
        return cls(settings.reader(Path(index), embedder))

    def _search(self, request: SearchRequest) -> list[SearchHit]:
        self.reader.refresh()
        if request.scope is not None and request.scope.page is not None:
            message = "a page scope needs the service (its SYLLABUS_SOURCE_URLS)"
            raise SyllabusError(400, "bad_request", message)
        scope = request.scope.to_scope() if request.scope else None
        hits = self.reader.search(request.query, request.top_k, scope=scope)
        return [SearchHit.of(hit) for hit in hits]


def local_searcher(
    index: IndexReader | Path | str | None = None, *, collection: str | None = None
) -> LocalSearcher:
    """A searcher over an open reader, an index directory, or a collection by name."""
    if isinstance(index, IndexReader):
        return LocalSearcher(index)
    return LocalSearcher.open(index, collection=collection)


class HttpSearcher(Searcher):
    """Searches a collection of a running Syllabus service through ``POST /v1/search``.

    ``url`` is the service's root (a trailing ``/v1`` is accepted); ``collection``
    defaults to the service's own default; ``api_key`` is sent as a bearer key, for a
    service that requires one.  ``transport`` and ``async_transport`` replace httpx's
    network transports (tests, proxies).
    """

    def __init__(
        self,
        url: str,
        *,
        collection: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/").removesuffix("/v1")
        self.collection = collection
        sent = dict(headers or {})
        if api_key is not None:
            sent["Authorization"] = f"Bearer {api_key}"
        self._options: dict[str, Any] = {"timeout": timeout, "headers": sent}
        self._transport = transport
        self._async_transport = async_transport

    def _body(self, request: SearchRequest) -> dict[str, Any]:
        body = request.model_copy(update={"collection": self.collection})
        # A search without a conversation sends none (services before `history` refuse it).
        return body.model_dump(exclude_none=True, exclude={"history"} if not body.history else None)

    def _search(self, request: SearchRequest) -> list[SearchHit]:
        with httpx.Client(transport=self._transport, **self._options) as client:
            response = client.post(f"{self.url}/v1/search", json=self._body(request))
        return _hits(response)

    async def _asearch(self, request: SearchRequest) -> list[SearchHit]:
        async with httpx.AsyncClient(transport=self._async_transport, **self._options) as client:
            response = await client.post(f"{self.url}/v1/search", json=self._body(request))
        return _hits(response)


def _hits(response: httpx.Response) -> list[SearchHit]:
    if response.is_success:
        return SearchResponse.model_validate_json(response.content).hits
    try:
        error = ErrorBody.model_validate_json(response.content).error
    except ValidationError:
        # Not Syllabus's error body: a proxy or another server answered.
        raise SyllabusError(
            response.status_code, "http_error", response.text[:200] or response.reason_phrase
        ) from None
    raise SyllabusError(response.status_code, error.code, error.message)
