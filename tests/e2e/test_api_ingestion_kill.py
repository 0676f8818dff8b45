"""SIGKILL of `syllabus serve` while an ingestion job started through the API runs.

The service is killed mid-embedding, then again the moment a new version starts
being written; each time the next start serves the last published version, whole,
and a re-sync through the API finishes the work (the uploaded files were kept).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from indexes import IndexReader
from indexes.versions import STAGING_PREFIX
from ingest import Pipeline
from service.schemas import DocumentsResponse, JobPublic
from service.settings import Settings
from tests.e2e.test_interrupted_ingestion import _assert_consistent
from tests.paths import DEMO_CORPUS
from tests.servers import free_port, running, syllabus_serve

pytestmark = pytest.mark.integration

KEY = "kill-test-admin-key-0123456789"
AS_ADMIN = {"Authorization": f"Bearer {KEY}"}


@contextmanager
def _service(home: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "SYLLABUS_DATA_DIR": str(home / "collections"),
        "SYLLABUS_ADMIN_API": "true",
        "SYLLABUS_ADMIN_API_KEYS": KEY,
    }
    with running(syllabus_serve(port), f"{url}/readyz", home / f"server-{port}.log", env) as p:
        yield url, p


def _job(url: str, job_id: str) -> JobPublic:
    response = httpx.get(f"{url}/v1/jobs/{job_id}", headers=AS_ADMIN, timeout=30)
    return JobPublic.model_validate(response.json())


def _kill_when(process: subprocess.Popen[bytes], ready: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not ready():
        assert process.poll() is None and time.monotonic() < deadline, "the moment never came"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def _sources(url: str) -> set[str]:
    response = httpx.get(f"{url}/v1/documents", headers=AS_ADMIN, timeout=30)
    return {d.source for d in DocumentsResponse.model_validate(response.json()).documents}


def test_killing_the_service_during_an_api_ingestion_loses_nothing(
    real_embedder: object, shared_dir: Path, tmp_path: Path
) -> None:
    index = tmp_path / "collections" / "default"
    Pipeline(real_embedder, Settings().chunker()).run([DEMO_CORPUS / "attention.md"], index)  # type: ignore[arg-type]
    folder = shared_dir / "corpus" / "course" / "d2l" / "optimization"
    files = sorted(folder.glob("*.md"))
    uploads = index / "uploads"

    with _service(tmp_path) as (url, process):
        parts = [("files", (f.name, f.read_bytes(), "text/markdown")) for f in files]
        response = httpx.post(f"{url}/v1/documents", files=parts, headers=AS_ADMIN, timeout=60)
        assert response.status_code == 202, response.text
        job = JobPublic.model_validate(response.json())

        def halfway() -> bool:
            time.sleep(0.05)
            current = _job(url, job.id)
            assert current.status in ("queued", "running"), current
            return current.done >= len(files) // 2

        _kill_when(process, halfway, within=300)
    assert _assert_consistent(index, real_embedder) == 1
    assert sorted(p.name for p in uploads.iterdir()) == [f.name for f in files]

    with _service(tmp_path) as (url, process):
        # The last good version, whole (the start queues the interrupted upload again,
        # which may already have published it).
        assert _sources(url) in ({"attention.md"}, {"attention.md"} | _uploaded(files))
        assert httpx.post(f"{url}/v1/search", json={"query": "attention"}).status_code == 200
        assert httpx.post(f"{url}/v1/reindex", headers=AS_ADMIN).status_code == 202
        staging = index / "versions"

        def publishing() -> bool:
            time.sleep(0.002)
            return any(p.name.startswith(STAGING_PREFIX) for p in staging.iterdir())

        _kill_when(process, publishing, within=300)
    version = _assert_consistent(index, real_embedder)
    assert version in (1, 2)

    with _service(tmp_path) as (url, _):
        assert _sources(url) in ({"attention.md"}, {"attention.md"} | _uploaded(files))
        response = httpx.post(f"{url}/v1/reindex", headers=AS_ADMIN, timeout=30)
        job = JobPublic.model_validate(response.json())
        deadline = time.monotonic() + 300
        while (job := _job(url, job.id)).status in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert job.status == "succeeded", job
        assert _sources(url) == {"attention.md"} | _uploaded(files)
        hits = httpx.post(f"{url}/v1/search", json={"query": "Adam bias correction"}).json()
        assert hits["hits"][0]["source"].startswith("uploads/")
    assert not any(p.name.startswith(STAGING_PREFIX) for p in (index / "versions").iterdir())
    sources = {d.source for d in IndexReader(index, real_embedder).documents()}  # type: ignore[arg-type]
    assert sources == {"attention.md"} | _uploaded(files)


def _uploaded(files: list[Path]) -> set[str]:
    return {f"uploads/{f.name}" for f in files}
