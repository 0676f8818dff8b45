"""Real servers for the framework tests: `syllabus serve` over the demo corpus, and
SmolLM2 behind llama.cpp's OpenAI-compatible server as the model a chain generates with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexes import IndexReader
from ingest import IngestReport
from service.generation import default_gguf_path
from tests.servers import serving
from tests.service.llama_server import LlamaServer, start_llama_server


@pytest.fixture(scope="session")
def syllabus_url(
    demo_index: tuple[IndexReader, IngestReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`syllabus serve` in its own process over a copy of the demo index; its root URL."""
    home = tmp_path_factory.mktemp("served-integrations")
    with serving({"default": demo_index[0].root}, home) as url:
        yield url


@pytest.fixture(scope="session")
def model_server() -> Iterator[LlamaServer]:
    with start_llama_server(default_gguf_path()) as server:
        yield server
