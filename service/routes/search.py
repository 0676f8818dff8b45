"""POST /v1/search: retrieval only, the hits `syllabus search` prints."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter

from service.answering.retrieve import retrieval_query, scoped_search
from service.deps import CallerDep, LibraryDep, LinksDep, SettingsDep, request_scope
from service.schemas import SearchHit, SearchRequest, SearchResponse, error_responses

router = APIRouter(tags=["search"])


@router.post(
    "/v1/search",
    response_model=SearchResponse,
    responses=error_responses(400, 401, 404, 413, 415, 422),
)
async def search(
    body: SearchRequest,
    library: LibraryDep,
    links: LinksDep,
    settings: SettingsDep,
    _: CallerDep,
) -> SearchResponse:
    name = settings.collection_for(body.collection)
    reader = await to_thread.run_sync(library.reader, name)
    scope = await request_scope(library, links, name, body.scope)
    query = retrieval_query(body.query, body.history, reader)
    hits = await to_thread.run_sync(lambda: scoped_search(reader, query, body.top_k, scope))
    return SearchResponse(
        hits=[SearchHit.of(h, links.url(name, h.chunk)) for h in hits],
        collection=name,
        index_version=reader.version,
    )
