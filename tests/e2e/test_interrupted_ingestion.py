"""Killing an ingestion (SIGKILL, Ctrl-C) leaves the previous version serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexes import IndexReader
from indexes.manifest import read_manifest
from indexes.store import STORE_NAME, ChunkStore
from indexes.versions import VersionedDir
from ingest import Pipeline
from service.settings import Settings
from tests.paths import DEMO_CORPUS

SYLLABUS = [sys.executable, "-m", "service.cli"]


def _start_ingest(paths: list[Path], index: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*SYLLABUS, "ingest", *map(str, paths), "--index", str(index)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_until_embedding(victim: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Return once the ingestion has loaded its model (it then embeds at once).

    A fixed sleep is not enough: an ingestion can finish within it on a fast
    machine.  The model's runtime library showing in the process's memory map is
    the sign, whichever backend is configured.
    """
    deadline = time.monotonic() + timeout
    maps = Path(f"/proc/{victim.pid}/maps")
    while time.monotonic() < deadline and victim.poll() is None:
        mapped = maps.read_text(encoding="utf-8", errors="replace")
        if "onnxruntime" in mapped or "libtorch" in mapped:
            time.sleep(0.5)  # the first chunks are being embedded
            break
        time.sleep(0.05)
    assert victim.poll() is None, victim.stdout.read() if victim.stdout else ""


def _assert_consistent(index: Path, embedder: object) -> int:
    """CURRENT names a complete version whose parts agree, and it answers searches."""
    directory = VersionedDir(index)
    manifest = read_manifest(directory.current_dir())
    store = ChunkStore(directory.current_dir() / STORE_NAME)
    assert sum(d.n_chunks for d in store.documents()) == manifest.counts.chunks
    store.close()
    reader = IndexReader(index, embedder)  # type: ignore[arg-type]
    assert reader.search("learning rate", k=3)
    return manifest.version


@pytest.fixture
def index_v1(real_embedder: object, tmp_path: Path) -> Path:
    index = tmp_path / "index"
    Pipeline(real_embedder, Settings().chunker()).run([DEMO_CORPUS / "attention.md"], index)  # type: ignore[arg-type]
    return index


@pytest.mark.integration
def test_sigkill_during_embedding_and_publishing_keeps_the_index_serving(
    index_v1: Path, real_embedder: object, shared_dir: Path
) -> None:
    more = shared_dir / "corpus" / "course" / "d2l" / "optimization"
    victim = _start_ingest([more], index_v1)
    _wait_until_embedding(victim)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert _assert_consistent(index_v1, real_embedder) == 1

    # Now kill as soon as a new version starts being written.
    victim = _start_ingest([more], index_v1)
    staging = index_v1 / "versions"
    while victim.poll() is None and not any(
        p.name.startswith(".staging") for p in staging.iterdir()
    ):
        time.sleep(0.002)
    if victim.poll() is None:
        os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert _assert_consistent(index_v1, real_embedder) in (1, 2)

    finished = subprocess.run(
        [*SYLLABUS, "ingest", str(more), "--index", str(index_v1)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    version = _assert_consistent(index_v1, real_embedder)
    sources = {d.source for d in IndexReader(index_v1, real_embedder).documents()}  # type: ignore[arg-type]
    assert "attention.md" in sources and "optimization/adam.md" in sources
    assert not any(p.name.startswith(".staging") for p in staging.iterdir()), version


@pytest.mark.integration
def test_ctrl_c_leaves_the_previous_version(index_v1: Path, real_embedder: object) -> None:
    victim = _start_ingest([DEMO_CORPUS], index_v1)
    _wait_until_embedding(victim)
    os.killpg(victim.pid, signal.SIGINT)
    assert victim.wait(timeout=60) != 0
    assert _assert_consistent(index_v1, real_embedder) == 1


@pytest.mark.integration
def test_a_concurrent_ingestion_stops_with_a_clear_message(index_v1: Path) -> None:
    with VersionedDir(index_v1).lock():
        result = subprocess.run(
            [*SYLLABUS, "ingest", str(DEMO_CORPUS), "--index", str(index_v1)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 2
    assert "another ingestion into" in result.stderr and "is running" in result.stderr
