"""The parts a started app serves with, each with its type.

:func:`build_components` loads the embedder and the generator side by side, opens
every collection and wires the rest (the answerer, the jobs and documents of the admin
API, the keyring, the rate limiters, the answer journal); :meth:`Components.aclose`
releases them. ``create_app``'s lifespan does both and keeps the result on the app with
:func:`install`; ``service.deps`` and the MCP server read it with :func:`components_of`,
which raises ``NotReady`` while nothing is built.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import anyio
from anyio import to_thread
from starlette.applications import Starlette

from indexes import DataRoot, Embedder, SentenceTransformerEmbedder
from service.answering import Answerer
from service.course import Courses
from service.documents import Documents
from service.errors import NotReady
from service.feedback import AnswerJournal
from service.generation.base import Generator
from service.generation.factory import build_generator, build_named, default_model_name
from service.generation.pool import ModelPool
from service.jobs import Jobs
from service.library import Library
from service.links import SourceLinks
from service.metrics import Metrics
from service.settings import Settings
from service.web.auth import Keyring
from service.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)
T = TypeVar("T")
NOT_READY = "the service is still starting: the embedder, index or generator is not loaded yet"


@dataclass(frozen=True, slots=True)
class Components:
    """Every part of a started app."""

    settings: Settings
    metrics: Metrics
    keyring: Keyring
    limiter: RateLimiter | None  # questions: /v1/ask, chat completions, MCP's ask
    feedback_limiter: RateLimiter | None  # ratings have a budget of their own
    journal: AnswerJournal
    embedder: Embedder
    generator: Generator  # the default model's; courses may name others (``models``)
    library: Library
    links: SourceLinks
    models: ModelPool
    answerer: Answerer
    jobs: Jobs | None  # these two with the admin API only
    documents: Documents | None
    owns_generator: bool  # False for a generator passed in: whoever passed it closes it

    async def aclose(self) -> None:
        """Release the journal, the ingestion jobs and the models built here."""
        self.journal.close()
        if self.jobs is not None:
            await to_thread.run_sync(self.jobs.close)
        await self.models.aclose_others()
        if self.owns_generator:
            await self.generator.aclose()


def install(app: Starlette, components: Components | None) -> None:
    """Make ``components`` the ones ``app`` serves with (``None``: it is not serving)."""
    app.state.components = components


def components_of(app: Starlette) -> Components:
    """The components ``app`` serves with; ``NotReady`` before they are built."""
    found = getattr(app.state, "components", None)
    if not isinstance(found, Components):
        raise NotReady(NOT_READY)
    return found


@dataclass
class _Clock:
    """How long the start took, and each part of it, for the ``ready in`` line."""

    started: float = field(default_factory=time.perf_counter)
    parts: dict[str, float] = field(default_factory=dict)

    async def timed(self, part: str, load: Callable[[], T]) -> T:
        begun = time.perf_counter()
        result = await to_thread.run_sync(load)
        self.parts[part] = time.perf_counter() - begun
        return result

    def report(self, opened: int) -> None:
        log.info(
            "ready in %.2f s after the app started (%s; %d collection(s) open)",
            time.perf_counter() - self.started,
            ", ".join(f"{part} {seconds:.2f} s" for part, seconds in self.parts.items()),
            opened,
        )


async def _load_models(
    settings: Settings, embedder: Embedder, generator: Generator | None, clock: _Clock
) -> Generator:
    """Load the embedder and build the generator (unless one is given) side by side."""
    built: list[Generator] = []

    async def build() -> None:
        built.append(await clock.timed("generator", lambda: build_generator(settings)))

    try:
        async with anyio.create_task_group() as group:
            if isinstance(embedder, SentenceTransformerEmbedder):
                group.start_soon(clock.timed, "embedder", embedder.load)
            if generator is None:
                group.start_soon(build)
    except BaseExceptionGroup as failed:  # report the failure itself, not the group
        raise failed.exceptions[0] from None
    return generator or built[0]


def _limiter(settings: Settings) -> RateLimiter | None:
    if settings.rate_limit_per_minute <= 0:
        return None
    return RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)


async def _admin_parts(
    settings: Settings, library: Library, embedder: Embedder | None
) -> tuple[Jobs | None, Documents | None]:
    """The admin API's ingestion jobs and documents, reconciled with the disk."""
    if not settings.admin_api:
        return None, None
    # Ingestion gets its own copy of the model: a tokenizer is not shared between
    # threads safely, and the model loads only when a job needs it.
    pipeline = settings.pipeline(embedder or settings.embedder())
    root = DataRoot(settings.data_dir)
    jobs = Jobs(root, pipeline, wait_seconds=settings.ingest_wait_seconds)
    documents = Documents(root, library, jobs)
    await to_thread.run_sync(documents.reconcile)
    return jobs, documents


async def build_components(
    settings: Settings,
    metrics: Metrics,
    *,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
) -> Components:
    """Load and wire every part; ``embedder`` and ``generator`` replace the configured ones."""
    clock = _Clock()
    used_embedder = embedder or settings.embedder()
    used_generator = await _load_models(settings, used_embedder, generator, clock)
    courses = Courses(settings.generator)
    library = Library(DataRoot(settings.data_dir), used_embedder, settings.fusion(), courses)
    clock.report(await clock.timed("collections", library.open_all))
    links = SourceLinks(settings.source_urls, lambda name: library.course(name).source_urls)
    models = ModelPool(
        default_model_name(settings),
        used_generator,
        (lambda _: used_generator) if generator else partial(build_named, settings),
    )
    metrics.track_queue(lambda: models.queue_depth)
    journal = AnswerJournal()
    checker = settings.checker(used_embedder)
    answerer = Answerer(
        library,
        used_embedder,
        used_generator,
        checker,
        settings.policy(),
        journal,
        links,
        models.get,
    )
    jobs, documents = await _admin_parts(settings, library, embedder)
    return Components(
        settings=settings,
        metrics=metrics,
        keyring=Keyring(settings.admin_api_keys, settings.ask_api_keys),
        limiter=_limiter(settings),
        feedback_limiter=_limiter(settings),
        journal=journal,
        embedder=used_embedder,
        generator=used_generator,
        library=library,
        links=links,
        models=models,
        answerer=answerer,
        jobs=jobs,
        documents=documents,
        owns_generator=generator is None,
    )
