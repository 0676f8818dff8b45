"""GET /v1/jobs/{id}: progress and per-file results of an ingestion job (admin key needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.deps import AdminDep, JobsDep
from service.routes.documents import job_public
from service.schemas import JobPublic, error_responses

router = APIRouter(tags=["documents"])

JobId = Annotated[str, Path(pattern="^[0-9a-f]{32}$", description="The id a change answered.")]


@router.get(
    "/v1/jobs/{job_id}", response_model=JobPublic, responses=error_responses(401, 403, 404, 422)
)
async def job(job_id: JobId, jobs: JobsDep, _: AdminDep) -> JobPublic:
    return job_public(jobs.get(job_id))
