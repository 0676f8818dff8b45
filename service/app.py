"""The application factory: ``create_app(settings)``.

The lifespan builds the app's components (``service.components``: the embedder, the
collections, the generator and what is wired from them) once, and releases them at
shutdown.  Nothing heavy happens at import time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import httpx
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexes import DiskFull, Embedder, IndexError_
from service.components import Components, build_components, install
from service.errors import ServiceError, error_body
from service.feedback import AnswerJournal
from service.generation.base import Generator
from service.library import Library
from service.metrics import Metrics
from service.routes import (
    ask,
    collections,
    course,
    documents,
    feedback,
    health,
    insights,
    jobs,
    mcp_http,
    openai,
    search,
    widget,
)
from service.routes.disconnect import ClientGone
from service.settings import Settings
from service.web.middleware import CrossOrigin, GuardAndMeasure

log = logging.getLogger(__name__)
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
UPLOAD_PATH = "/v1/documents"
PRUNE_EVERY_SECONDS = 3600.0


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def _short(part: object, limit: int = 64) -> str:
    """A field name as an error names it: an invented one may be any length."""
    text = str(part)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "malformed JSON in the request body"
    parts = []
    for error in errors[:5]:
        where = ".".join(_short(p) for p in error.get("loc", ()) if p != "body") or "body"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{where}: {message}")
    return 422, "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> Response:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        status, message = _validation_message(exc)
        return _error(status, "bad_request" if status == 400 else "invalid_request", message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "bad_request")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(IndexError_)
    async def index_error(_: Request, exc: IndexError_) -> Response:
        if isinstance(exc, DiskFull):
            return _error(507, "insufficient_storage", str(exc))
        # A collection damaged on disk after it was opened: that collection is
        # unavailable, the others serve.
        log.error("collection unavailable: %s", exc)
        return _error(503, "collection_unavailable", f"the collection cannot be read: {exc}")

    @app.exception_handler(ClientGone)
    async def client_gone(_: Request, __: ClientGone) -> Response:
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return _error(500, "internal", "internal error; the server log has the details")


def prune_logs(library: Library, journal: AnswerJournal, settings: Settings) -> int:
    """Delete logged answers older than each collection's retention; how many."""
    deleted = 0
    for name in library.names():
        try:
            days = library.course(name).question_log_days or settings.question_log_days
            deleted += journal.prune(library.folder(name), days)
        except ServiceError as exc:
            log.warning("answers of %r not pruned: %s", name, exc.message)
    return deleted


async def _keep_pruning(parts: Components) -> None:
    while True:
        await to_thread.run_sync(prune_logs, parts.library, parts.journal, parts.settings)
        await anyio.sleep(PRUNE_EVERY_SECONDS)


def _lifespan(
    settings: Settings, metrics: Metrics, embedder: Embedder | None, generator: Generator | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Build the components at start, prune old answers while serving, release them at the end."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        parts = await build_components(settings, metrics, embedder=embedder, generator=generator)
        install(app, parts)
        try:
            async with anyio.create_task_group() as chores:
                chores.start_soon(_keep_pruning, parts)
                yield
                chores.cancel_scope.cancel()
        finally:
            install(app, None)
            await parts.aclose()

    return lifespan


def _include_routers(app: FastAPI, settings: Settings) -> None:
    routers = [ask, search, openai, feedback, collections, course, health, widget, mcp_http]
    if settings.admin_api:
        routers += [documents, jobs, insights]
    for module in routers:
        app.include_router(module.router)
    if settings.admin_api:
        app.include_router(course.admin)


def create_app(
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
) -> FastAPI:
    """Build the app; ``embedder`` and ``generator`` replace the configured ones (tests)."""
    settings = settings or Settings()
    metrics = Metrics()
    app = FastAPI(
        title="Syllabus",
        version="0.1.0",
        summary="Grounded, cited answers from course materials.",
        lifespan=_lifespan(settings, metrics, embedder, generator),
        # FastAPI's /docs and /redoc load their scripts from a CDN: offline they do not
        # work, and a third-party script would run where an admin pastes the admin key.
        # The schema is at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    _install_error_handlers(app)
    _include_routers(app, settings)
    uploads = {UPLOAD_PATH: settings.max_upload_request_bytes} if settings.admin_api else {}
    app.add_middleware(
        GuardAndMeasure,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        uploads=uploads,
    )
    if settings.cors_origins:
        # Outermost, so that errors raised inside carry the CORS headers too and the
        # widget can read them; with no origins, no CORS headers: same-origin only.
        app.add_middleware(CrossOrigin, origins=settings.cors_origins)
    return app


@asynccontextmanager
async def in_process(app: FastAPI, timeout: float = 600.0) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` started, and an HTTP client that calls it in this process through its whole
    HTTP layer (middleware, validation, errors): the code path of serving, without a port.
    ``syllabus ask``, ``syllabus eval`` and the benchmarks ask through it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://syllabus.local", timeout=timeout
        ) as http:
            yield http
