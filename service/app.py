"""The application factory: ``create_app(settings)``.

The lifespan loads the embedder, opens the collections and starts the
generator once, and releases them at shutdown.  Nothing heavy happens at
import time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TypeVar

import anyio
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexes import DataRoot, DiskFull, Embedder, IndexError_, SentenceTransformerEmbedder
from ingest import Pipeline
from service.answering import Answerer, AnswerPolicy, GroundingChecker
from service.auth import Keyring
from service.course import Courses
from service.documents import Documents
from service.errors import ServiceError, error_body
from service.feedback import AnswerJournal
from service.generation.base import Generator
from service.generation.factory import build_generator, build_named, default_model_name
from service.generation.pool import ModelPool
from service.jobs import Jobs
from service.library import Library
from service.links import SourceLinks
from service.metrics import Metrics
from service.middleware import CrossOrigin, GuardAndMeasure
from service.ratelimit import RateLimiter
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

log = logging.getLogger(__name__)
T = TypeVar("T")
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


async def _keep_pruning(library: Library, journal: AnswerJournal, settings: Settings) -> None:
    while True:
        await to_thread.run_sync(prune_logs, library, journal, settings)
        await anyio.sleep(PRUNE_EVERY_SECONDS)


def create_app(
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
) -> FastAPI:
    """Build the app; ``embedder`` and ``generator`` replace the configured ones (tests)."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = time.perf_counter()
        timings: dict[str, float] = {}

        async def timed(part: str, load: Callable[[], T]) -> T:
            begun = time.perf_counter()
            result = await to_thread.run_sync(load)
            timings[part] = time.perf_counter() - begun
            return result

        used_embedder = embedder or settings.embedder()
        built: list[Generator] = []
        # The embedder and the generator are independent: load them side by side.
        try:
            async with anyio.create_task_group() as group:
                if isinstance(used_embedder, SentenceTransformerEmbedder):
                    group.start_soon(timed, "embedder", used_embedder.load)
                if generator is None:

                    async def build() -> None:
                        built.append(await timed("generator", lambda: build_generator(settings)))

                    group.start_soon(build)
        except BaseExceptionGroup as failed:  # report the failure itself, not the group
            raise failed.exceptions[0] from None
        used_generator = generator or built[0]
        library = Library(
            DataRoot(settings.data_dir),
            used_embedder,
            settings.fusion(),
            Courses(settings.generator),
        )
        opened = await timed("collections", library.open_all)
        log.info(
            "ready in %.2f s after the app started (%s; %d collection(s) open)",
            time.perf_counter() - started,
            ", ".join(f"{part} {seconds:.2f} s" for part, seconds in timings.items()),
            opened,
        )
        app.state.library = library
        app.state.embedder = used_embedder
        app.state.generator = used_generator
        app.state.links = SourceLinks(
            settings.source_urls, lambda name: library.course(name).source_urls
        )
        models = ModelPool(
            default_model_name(settings),
            used_generator,
            (lambda _: used_generator) if generator else partial(build_named, settings),
        )
        metrics.track_queue(lambda: models.queue_depth)
        app.state.answerer = Answerer(
            library,
            used_embedder,
            used_generator,
            GroundingChecker(used_embedder, settings.support_threshold),
            AnswerPolicy(
                answer_strategy=settings.answer_strategy,
                abstain_threshold=settings.abstain_threshold,
                answer_style=settings.answer_style,
                teaching_mode=settings.teaching_mode,
                question_log=settings.question_log,
                min_supported_ratio=settings.min_supported_ratio,
                max_answer_tokens=settings.max_answer_tokens,
                prompt_passages=settings.prompt_passages,
                max_passage_chars=settings.max_passage_chars,
            ),
            app.state.journal,
            app.state.links,
            models.get,
        )
        if settings.admin_api:
            # Ingestion gets its own copy of the model: a tokenizer is not shared
            # between threads safely, and the model loads only when a job needs it.
            ingest_embedder = embedder or settings.embedder()
            pipeline = Pipeline(
                ingest_embedder,
                settings.chunker(),
                hnsw_threshold=settings.hnsw_threshold,
                budget=settings.parse_budget(),
            )
            root = DataRoot(settings.data_dir)
            app.state.jobs = Jobs(root, pipeline, wait_seconds=settings.ingest_wait_seconds)
            app.state.documents = Documents(root, library, app.state.jobs)
            await to_thread.run_sync(app.state.documents.reconcile)
        try:
            async with anyio.create_task_group() as chores:
                chores.start_soon(_keep_pruning, library, app.state.journal, settings)
                yield
                chores.cancel_scope.cancel()
        finally:
            app.state.answerer = None
            app.state.journal.close()
            if app.state.jobs is not None:
                await to_thread.run_sync(app.state.jobs.close)
            await models.aclose_others()
            if generator is None:
                await used_generator.aclose()

    app = FastAPI(
        title="Syllabus",
        version="0.1.0",
        summary="Grounded, cited answers from course materials.",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc load their scripts from a CDN: offline they do not
        # work, and a third-party script would run where an admin pastes the admin key.
        # The schema is at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.answerer = app.state.jobs = app.state.documents = None
    app.state.keyring = Keyring(settings.admin_api_keys, settings.ask_api_keys)

    def limiter() -> RateLimiter | None:
        if settings.rate_limit_per_minute <= 0:
            return None
        return RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)

    app.state.limiter = limiter()
    app.state.feedback_limiter = limiter()  # ratings have a budget of their own
    app.state.journal = AnswerJournal()
    app.state.links = app.state.embedder = None
    _install_error_handlers(app)
    routers = [ask, search, openai, feedback, collections, course, health, widget, mcp_http]
    if settings.admin_api:
        routers += [documents, jobs, insights]
    for module in routers:
        app.include_router(module.router)
    if settings.admin_api:
        app.include_router(course.admin)
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
