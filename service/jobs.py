"""Background ingestion jobs: uploads, deletions and re-syncs of a collection.

One worker thread runs the jobs in the order they were submitted, so two
jobs never write an index at once (the index's own lock keeps other
processes, such as ``syllabus ingest``, out).  A job runs the ingestion
pipeline, which publishes a new index version atomically: a job killed at
any point leaves the last published version serving.  Files are parsed in the
pipeline's worker process, which :meth:`Jobs.close` kills, so stopping the
service never waits on a parse.  Jobs live in memory (the latest ``keep``); a
job that a restart interrupted is lost, and ``POST /v1/reindex`` finishes its work.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from indexes import DataRoot, IndexError_
from indexes.manifest import now
from ingest import IngestReport, Pipeline
from ingest.parsing import ParseInterrupted
from service.errors import NotFound

log = logging.getLogger(__name__)

UPLOADS = "uploads"
JobKind = Literal["upload", "delete", "reindex"]
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Outcome = Literal["added", "updated", "unchanged", "removed", "failed"]


class JobCancelled(Exception):
    """The service is stopping; the job gives up before publishing anything."""


@dataclass(frozen=True, slots=True)
class FileResult:
    source: str
    outcome: Outcome
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Work:
    """What a job ingests: the folders or files to sync, and document paths to drop."""

    paths: Sequence[Path]
    forget: Collection[str] = ()
    skip: Collection[str] = ()  # files under ``paths`` that stay out (deleted through the API)


@dataclass
class Job:
    id: str
    kind: JobKind
    collection: str
    files: list[str]
    status: JobStatus = "queued"
    created_at: str = field(default_factory=now)
    started_at: str | None = None
    finished_at: str | None = None
    total: int | None = None
    done: int = 0
    current: str | None = None
    results: list[FileResult] = field(default_factory=list)
    version: int | None = None
    error: str | None = None


def results_of(report: IngestReport) -> list[FileResult]:
    outcomes: list[tuple[Outcome, list[str]]] = [
        ("added", report.added),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("removed", report.removed),
    ]
    results = [FileResult(s, outcome) for outcome, sources in outcomes for s in sources]
    results += [FileResult(f.source, "failed", f.reason) for f in report.failed]
    return sorted(results, key=lambda r: r.source)


class _Progress:
    """Feeds the pipeline's progress into the job, and stops it when the service stops."""

    def __init__(self, jobs: Jobs, job_id: str) -> None:
        self._jobs = jobs
        self._job_id = job_id

    def start(self, total: int) -> None:
        self._jobs._update(self._job_id, total=total)

    def advance(self, source: str) -> None:
        self._jobs._advance(self._job_id, source)


class Jobs:
    """Runs ingestion jobs one at a time and remembers the latest ``keep`` of them."""

    def __init__(
        self, root: DataRoot, pipeline: Pipeline, *, wait_seconds: float = 0.0, keep: int = 200
    ) -> None:
        self._root = root
        self._pipeline = pipeline
        self._wait_seconds = wait_seconds
        self._keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="syllabus-ingest")

    def uploads_dir(self, collection: str) -> Path:
        """Where uploaded files of ``collection`` are kept (inside its index directory)."""
        return (self._root.collection(collection).path / UPLOADS).resolve()

    def submit(
        self, kind: JobKind, collection: str, plan: Callable[[], Work], files: Sequence[str] = ()
    ) -> Job:
        """Queue a job; ``plan`` is called when it starts, so it sees the state of that time."""
        job = Job(uuid.uuid4().hex, kind, collection, list(files))
        with self._lock:
            self._jobs[job.id] = job
            self._forget_finished()
            snapshot = replace(job, results=list(job.results))
        self._executor.submit(self._run, job.id, plan)
        return snapshot

    def _forget_finished(self) -> None:
        """Keep at most ``keep`` jobs, forgetting the oldest finished ones: a job still
        queued or running is never forgotten (its id was just handed out)."""
        finished = [i for i, j in self._jobs.items() if j.status not in ("queued", "running")]
        for job_id in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job_id]

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFound(f"no job {job_id!r} (jobs are kept in memory until a restart)")
            return replace(job, files=list(job.files), results=list(job.results))

    def close(self) -> None:
        """Cancel queued jobs and stop the running one before it publishes; a parse in
        progress is killed, not waited for."""
        self._closing.set()
        self._pipeline.close()
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for job in self._jobs.values():
                if job.status == "queued":
                    job.status, job.error = "cancelled", "the service stopped before it ran"

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                for name, value in changes.items():
                    setattr(job, name, value)

    def _advance(self, job_id: str, source: str) -> None:
        if self._closing.is_set():
            raise JobCancelled("the service stopped during the job; nothing was published")
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.done += 1
                job.current = source

    def _run(self, job_id: str, plan: Callable[[], Work]) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or self._closing.is_set():
                return
            job.status, job.started_at = "running", now()
            collection = job.collection
        try:
            work = plan()
            report = self._pipeline.run(
                work.paths,
                self._root.collection(collection).path,
                wait_seconds=self._wait_seconds,
                progress=_Progress(self, job_id),
                forget=work.forget,
                skip=work.skip,
            )
        except JobCancelled as exc:
            self._update(job_id, status="cancelled", error=str(exc), finished_at=now())
        except ParseInterrupted:
            error = "the service stopped during the job; nothing was published"
            self._update(job_id, status="cancelled", error=error, finished_at=now())
        except IndexError_ as exc:
            self._update(job_id, status="failed", error=str(exc), finished_at=now())
        except Exception as exc:  # a job's failure is reported, never the worker's death
            log.exception("ingestion job %s failed", job_id)
            error = f"{type(exc).__name__}: {exc}"
            self._update(job_id, status="failed", error=error, finished_at=now())
        else:
            self._update(
                job_id,
                status="succeeded",
                results=results_of(report),
                version=report.version,
                current=None,
                finished_at=now(),
            )
