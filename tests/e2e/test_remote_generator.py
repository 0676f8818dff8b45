"""The service with SYLLABUS_GENERATOR=openai against a real llama.cpp server process (or
vLLM, on a GPU machine: ``scripts/check-vllm.sh``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexes import IndexReader
from ingest import IngestReport
from service.app import create_app
from service.generation import default_gguf_path
from service.schemas import AskResponse, ErrorBody
from service.settings import Settings
from tests.service.llama_server import start_openai_server

pytestmark = pytest.mark.integration


def test_answers_through_a_remote_openai_compatible_server(
    demo_index: tuple[IndexReader, IngestReport], real_embedder: object, tmp_path: Path
) -> None:
    shutil.copytree(demo_index[0].root, tmp_path / "collections" / "default")
    question = {"question": "What does the forget gate in an LSTM do?"}
    with start_openai_server(default_gguf_path()) as server:
        settings = Settings(
            data_dir=tmp_path / "collections",
            generator="openai",
            openai_base_url=server.base_url,
            openai_model=server.model,
            answer_strategy="generative",
        )
        app = create_app(settings, embedder=real_embedder)  # type: ignore[arg-type]
        with TestClient(app) as client:
            answer = AskResponse.model_validate(client.post("/v1/ask", json=question).json())
            assert answer.mode == "generative" and answer.answer
            assert answer.model == server.model
            streamed = client.post("/v1/ask", json={**question, "stream": True}).text
            kinds = [line[7:] for line in streamed.splitlines() if line.startswith("event: ")]
            assert kinds[0] == "citations" and "token" in kinds and kinds[-1] == "done"
            server.process.terminate()
            server.process.wait(timeout=30)
            down = client.post("/v1/ask", json=question)
            assert down.status_code == 502
            message = ErrorBody.model_validate(down.json()).error.message
            assert server.base_url in message
            streamed = client.post("/v1/ask", json={**question, "stream": True}).text
            error = json.loads(streamed.split("event: error\ndata: ")[1].split("\n")[0])
            assert error["error"]["code"] == "generator_unavailable"
