"""POST /v1/feedback: a learner's helpful / not helpful on one answer, with a comment."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter

from service.deps import JournalDep, LibraryDep, RaterDep, SettingsDep
from service.schemas import FeedbackRequest, FeedbackResponse, error_responses

router = APIRouter(tags=["feedback"])


@router.post(
    "/v1/feedback",
    response_model=FeedbackResponse,
    responses=error_responses(400, 401, 404, 413, 415, 422, 429, 503),
)
async def feedback(
    body: FeedbackRequest,
    library: LibraryDep,
    journal: JournalDep,
    settings: SettingsDep,
    _: RaterDep,
) -> FeedbackResponse:
    reader = await to_thread.run_sync(library.reader, settings.collection_for(body.collection))
    comment = body.comment.strip() or None if body.comment else None
    await to_thread.run_sync(
        lambda: journal.rate(reader.root, body.answer_id, body.helpful, comment)
    )
    return FeedbackResponse(answer_id=body.answer_id, helpful=body.helpful)
