"""POST /v1/ask: a grounded, cited answer, whole or as server-sent events."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from service.answering import Question
from service.deps import (
    AnswererDep,
    AskerDep,
    GeneratorDep,
    LibraryDep,
    LinksDep,
    MetricsDep,
    SettingsDep,
    request_scope,
)
from service.errors import Overloaded
from service.generation.base import Generator
from service.routes.disconnect import unless_disconnected
from service.schemas import AskRequest, AskResponse, error_responses
from service.settings import Settings
from service.web.sse import answer_stream

router = APIRouter(tags=["answers"])


def wants_stream(body: AskRequest, request: Request) -> bool:
    return body.stream or "text/event-stream" in request.headers.get("accept", "")


def admit_stream(generator: Generator, settings: Settings) -> None:
    """Refuse a streamed answer while the embedded model's queue is full: before the
    stream's 200 is sent, so that the client sees a real 503."""
    if settings.generator == "embedded" and generator.queue_depth >= settings.queue_size:
        raise Overloaded("the generation queue is full; retry shortly", retry_after=2)


@router.post(
    "/v1/ask",
    response_model=AskResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        **error_responses(400, 401, 404, 413, 415, 422, 429, 502, 503, 504),
    },
)
async def ask(
    body: AskRequest,
    request: Request,
    answerer: AnswererDep,
    library: LibraryDep,
    links: LinksDep,
    generator: GeneratorDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    _: AskerDep,
) -> AskResponse | StreamingResponse:
    collection = settings.collection_for(body.collection)
    scope = await request_scope(library, links, collection, body.scope)
    question = Question.asked(body, collection, scope)
    if wants_stream(body, request):
        admit_stream(generator, settings)
        return StreamingResponse(
            answer_stream(answerer, question, lambda mode: metrics.answers.labels(mode=mode).inc()),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    response = await unless_disconnected(request, answerer.answer(question))
    metrics.answers.labels(mode=response.mode).inc()
    return response
