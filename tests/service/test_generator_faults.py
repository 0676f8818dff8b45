"""A remote generator down, slow, then back: fast 502/504s, the service up, answers resumed."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from fastapi.testclient import TestClient

from service.app import create_app
from service.generation import OpenAIGenerator
from service.schemas import AskResponse, ErrorBody
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import ingest_notes

REPLY = "Bias correction divides each average by one minus beta to the power t [1]."
QUESTION = {"question": "How does Adam bias correction work with beta to the power t?"}


class Backend:
    """A scripted OpenAI-compatible server: ``up``, ``down`` (refusing) or ``slow``."""

    def __init__(self) -> None:
        self.state = "up"

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.state == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.state == "slow":
            await asyncio.sleep(30)
        chunk = {"choices": [{"index": 0, "delta": {"content": REPLY}}]}
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
        return httpx.Response(200, content=body.encode())


def test_failures_are_fast_and_clear_and_answers_resume(settings: Settings) -> None:
    ingest_notes(settings.data_dir)
    backend = Backend()
    generator = OpenAIGenerator(
        "http://gpu-box.test/v1", "remote", timeout=0.5, transport=httpx.MockTransport(backend)
    )
    app = create_app(settings, embedder=FakeEmbedder(), generator=generator)
    with TestClient(app) as client:
        first = AskResponse.model_validate(client.post("/v1/ask", json=QUESTION).json())
        assert first.mode == "generative" and first.model == "remote"

        backend.state = "down"
        started = time.monotonic()
        down = client.post("/v1/ask", json=QUESTION)
        assert down.status_code == 502 and time.monotonic() - started < 5
        message = ErrorBody.model_validate(down.json()).error.message
        assert "cannot reach http://gpu-box.test/v1/chat/completions" in message
        assert client.get("/healthz").status_code == 200
        assert client.post("/v1/search", json={"query": "Adam"}).status_code == 200

        backend.state = "slow"
        started = time.monotonic()
        slow = client.post("/v1/ask", json=QUESTION)
        assert slow.status_code == 504 and time.monotonic() - started < 5
        assert "did not answer within 0.5 seconds" in slow.json()["error"]["message"]
        chat = {"model": "default", "messages": [{"role": "user", "content": QUESTION["question"]}]}
        assert client.post("/v1/chat/completions", json=chat).status_code == 504

        backend.state = "up"
        resumed = AskResponse.model_validate(client.post("/v1/ask", json=QUESTION).json())
        assert resumed.mode == "generative" and "[1]" in resumed.answer
        assert client.get("/readyz").status_code == 200
