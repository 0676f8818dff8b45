"""GET /v1/collections: the courses this deployment serves."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter

from service.deps import LibraryDep
from service.schemas import CollectionsResponse

router = APIRouter(tags=["collections"])


@router.get("/v1/collections", response_model=CollectionsResponse)
async def collections(library: LibraryDep) -> CollectionsResponse:
    return CollectionsResponse.listing(await to_thread.run_sync(library.collections))
