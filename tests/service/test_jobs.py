"""The job table: a job's id answers from its 202 until it finished and became old."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from indexes import ChunkerParams, DataRoot
from ingest import Pipeline
from service.jobs import Jobs, Work
from tests.fakes import FakeEmbedder


def test_queued_jobs_are_never_forgotten_finished_ones_are(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nAdam keeps moving averages.\n", encoding="utf-8")
    pipeline = Pipeline(FakeEmbedder(), ChunkerParams(chunk_tokens=100, overlap_tokens=0))
    jobs = Jobs(DataRoot(tmp_path / "collections"), pipeline, keep=3)
    release = threading.Event()

    def plan() -> Work:
        release.wait(10)
        return Work([notes])

    try:
        ids = [jobs.submit("reindex", "default", plan).id for _ in range(8)]
        assert [jobs.get(i).id for i in ids] == ids  # 8 queued or running, all answer
        release.set()
        deadline = time.monotonic() + 20
        while jobs.get(ids[-1]).status in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        later = jobs.submit("reindex", "default", plan).id
        kept = [i for i in [*ids, later] if _known(jobs, i)]
        assert kept == [*ids[-2:], later]  # the oldest finished ones made room
    finally:
        release.set()
        jobs.close()


def _known(jobs: Jobs, job_id: str) -> bool:
    try:
        jobs.get(job_id)
    except Exception:
        return False
    return True
