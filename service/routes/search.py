"""POST /v1/search: retrieval only, the hits `syllabus search` prints."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter

from service.deps import LibraryDep, SettingsDep
from service.schemas import ErrorBody, SearchHit, SearchRequest, SearchResponse

router = APIRouter(tags=["search"])


@router.post(
    "/v1/search",
    response_model=SearchResponse,
    responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
async def search(body: SearchRequest, library: LibraryDep, settings: SettingsDep) -> SearchResponse:
    name = body.collection or settings.collection
    reader = await to_thread.run_sync(library.reader, name)
    hits = await to_thread.run_sync(lambda: reader.search(body.query, body.top_k))
    return SearchResponse(
        hits=[SearchHit.of(h) for h in hits],
        collection=name,
        index_version=reader.version,
    )
