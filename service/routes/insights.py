"""GET /v1/insights: what learners asked of a collection lately (admin key needed)."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query

from service.deps import AdminDep, CollectionDep, EmbedderDep, JournalDep, LibraryDep
from service.insights import Insights, gather
from service.schemas import error_responses

router = APIRouter(tags=["insights"])

SinceQuery = Annotated[int, Query(ge=1, le=3650, description="Days to look back.")]


@router.get(
    "/v1/insights",
    response_model=Insights,
    responses=error_responses(400, 401, 403, 404, 422, 503),
)
async def insights(
    library: LibraryDep,
    embedder: EmbedderDep,
    journal: JournalDep,
    _: AdminDep,
    collection: CollectionDep,
    since: SinceQuery = 30,
) -> Insights:
    reader = await to_thread.run_sync(library.reader, collection)
    return await to_thread.run_sync(
        lambda: gather(journal, reader.root, embedder, reader.documents(), since)
    )
