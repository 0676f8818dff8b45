"""Session-scoped real indexes: built once with the real embedder, shared read-only."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexes import IndexReader
from ingest import IngestReport, Pipeline
from service.settings import Settings
from tests.conftest import DEMO_CORPUS
from tests.servers import free_port, running, syllabus_serve


def _build(embedder: object, paths: list[Path], index: Path) -> tuple[IndexReader, IngestReport]:
    settings = Settings()
    report = Pipeline(embedder, settings.chunker()).run(paths, index)  # type: ignore[arg-type]
    return IndexReader(index, embedder, settings.fusion()), report  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def demo_index(
    real_embedder: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[IndexReader, IngestReport]:
    return _build(real_embedder, [DEMO_CORPUS], tmp_path_factory.mktemp("demo") / "index")


@pytest.fixture(scope="session")
def shared_index(
    real_embedder: object, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[IndexReader, IngestReport]:
    corpus = shared_dir / "corpus"
    return _build(real_embedder, [corpus], tmp_path_factory.mktemp("shared") / "index")


@pytest.fixture(scope="session")
def served_demo(
    demo_index: tuple[IndexReader, IngestReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`syllabus serve` in its own process over the demo corpus; yields its base URL."""
    home = tmp_path_factory.mktemp("served")
    shutil.copytree(demo_index[0].root, home / "collections" / "default")
    port = free_port()
    env = {"SYLLABUS_DATA_DIR": str(home / "collections")}
    url = f"http://127.0.0.1:{port}"
    with running(syllabus_serve(port), f"{url}/readyz", home / "server.log", env):
        yield url
