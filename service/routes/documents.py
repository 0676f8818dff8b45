"""The documents of a collection: list, upload, delete, re-sync (admin key needed).

Changes run as background jobs (``GET /v1/jobs/{id}``); each answers 202 with the job.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.datastructures import UploadFile

from service.deps import AdminDep, CollectionDep, DocumentsDep, SettingsDep
from service.errors import ValidationFailed
from service.jobs import Job
from service.schemas import DocumentsResponse, JobPublic, error_responses
from service.uploads import Upload

router = APIRouter(tags=["documents"])

DocumentId = Annotated[str, Path(pattern="^[0-9a-f]{16}$", description="A document's id.")]
_ADMIN_ERRORS = (400, 401, 403, 404, 422)
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "properties": {
                    "files": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "format": "binary"},
                        "description": "Markdown, text, HTML or PDF files.",
                    }
                },
            }
        }
    },
}


def job_public(job: Job) -> JobPublic:
    return JobPublic.model_validate(asdict(job))


@router.get(
    "/v1/documents", response_model=DocumentsResponse, responses=error_responses(*_ADMIN_ERRORS)
)
async def list_documents(
    documents: DocumentsDep, _: AdminDep, collection: CollectionDep
) -> DocumentsResponse:
    return await documents.listing(collection)


@router.post(
    "/v1/documents",
    status_code=202,
    response_model=JobPublic,
    responses=error_responses(*_ADMIN_ERRORS, 413, 415, 507),
    openapi_extra={"requestBody": _UPLOAD_BODY},
)
async def upload_documents(
    request: Request,
    documents: DocumentsDep,
    settings: SettingsDep,
    _: AdminDep,
    collection: CollectionDep,
) -> JobPublic:
    # The body is read only now, once the key has been checked.
    async with request.form(max_files=settings.max_upload_files, max_fields=8) as form:
        parts = form.getlist("files")
        if not parts or not all(isinstance(p, UploadFile) for p in parts):
            raise ValidationFailed("files: send one or more files as multipart 'files' fields")
        received = [
            Upload(p.filename or "", await p.read(settings.max_upload_bytes + 1))
            for p in parts
            if isinstance(p, UploadFile)
        ]
    job = await documents.upload(
        collection,
        received,
        settings.max_upload_bytes,
        settings.max_upload_files,
    )
    return job_public(job)


@router.delete(
    "/v1/documents/{document_id}",
    status_code=202,
    response_model=JobPublic,
    responses=error_responses(*_ADMIN_ERRORS),
)
async def delete_document(
    document_id: DocumentId,
    documents: DocumentsDep,
    _: AdminDep,
    collection: CollectionDep,
) -> JobPublic:
    return job_public(await documents.delete(collection, document_id))


@router.post(
    "/v1/reindex",
    status_code=202,
    response_model=JobPublic,
    responses=error_responses(*_ADMIN_ERRORS, 415),
)
async def reindex(documents: DocumentsDep, _: AdminDep, collection: CollectionDep) -> JobPublic:
    return job_public(await documents.reindex(collection))
