"""Shared fixtures: isolation of settings, a deterministic fake embedder, the real one,
and the demo corpus indexed with it (the helpers themselves live in their own modules:
paths, fakes, pdfs, indexing, servers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fakes import FakeEmbedder
from tests.indexing import build_index
from tests.paths import DEMO_CORPUS, SHARED

if TYPE_CHECKING:
    from indexes import IndexReader
    from ingest import IngestReport


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's SYLLABUS_* variables, .env or data folder."""
    for name in list(os.environ):
        if name.startswith("SYLLABUS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SYLLABUS_DATA_DIR", str(tmp_path / "collections"))
    # The tests were written for, and stay fast with, the smallest packaged model; a test
    # of another model asks for it.
    monkeypatch.setenv("SYLLABUS_MODEL", "smollm2-135m")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> Iterator[object]:
    from service.settings import Settings

    embedder = Settings().embedder()  # the configured backend, as the service uses
    embedder.load()
    yield embedder


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"these tests read ../shared in place, and it is absent at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def demo_index(
    real_embedder: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[IndexReader, IngestReport]:
    """``corpus/`` indexed with the real embedder, once per session; copy it to change it."""
    return build_index(real_embedder, [DEMO_CORPUS], tmp_path_factory.mktemp("demo") / "index")
