"""Session-scoped real indexes and servers, shared read-only (``demo_index`` is in tests/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexes import IndexReader
from ingest import IngestReport
from service.generation.models import DEFAULT_MODEL
from tests.indexing import build_index
from tests.servers import serving


@pytest.fixture(scope="session")
def shared_index(
    real_embedder: object, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[IndexReader, IngestReport]:
    corpus = shared_dir / "corpus"
    return build_index(real_embedder, [corpus], tmp_path_factory.mktemp("shared") / "index")


@pytest.fixture(scope="session")
def served_demo(
    demo_index: tuple[IndexReader, IngestReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`syllabus serve` in its own process over the demo corpus, with the default model
    (the tests' isolation picks SmolLM2 elsewhere), as 'default' and as 'guided' (teaching
    mode guide); yields its base URL."""
    home = tmp_path_factory.mktemp("served")
    env = {"SYLLABUS_MODEL": DEFAULT_MODEL}
    index = demo_index[0].root
    courses = {"guided": {"teaching_mode": "guide"}}
    with serving({"default": index, "guided": index}, home, env, courses) as url:
        yield url
