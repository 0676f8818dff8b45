"""The evaluation client: rate limits waited out, what a question is sent with, and timing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from eval import target as target_module
from eval.scoring import Observation
from eval.target import Target, TargetError, ask_body


def test_a_429_is_retried_after_its_retry_after() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            body = {"error": {"code": "rate_limited", "message": "slow down"}}
            return httpx.Response(429, json=body, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"hits": [], "collection": "c", "index_version": 1})

    async def search() -> list[object]:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            hits, _ = await Target(http, "c", streamed=False).search("q")
            return hits

    assert asyncio.run(search()) == []
    assert calls == ["/v1/search", "/v1/search"]


def test_other_refusals_fail_the_question_with_the_service_message() -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no such"}})

    async def search() -> None:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            await Target(http, "c", streamed=False).search("q")

    with pytest.raises(TargetError, match="/v1/search: 404 no such"):
        asyncio.run(search())


HISTORY = (("user", "what is an lstm?"), ("assistant", "A recurrent network [1]."))
ANSWER = {
    "answer": "It decides what to keep [1].",
    "mode": "generative",
    "citations": [],
    "grounding": {
        "reason": "supported",
        "sentences": [{"supported": True}],
        "best_passage_score": 0.7,
        "abstain_threshold": 0.3,
    },
    "timings": {"retrieval_ms": 5.0, "first_token_ms": 20.0, "total_ms": 90.0},
}


def test_a_question_goes_with_its_history_and_style() -> None:
    bodies: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        bodies[request.url.path] = json.loads(request.content)
        if request.url.path == "/v1/search":
            return httpx.Response(200, json={"hits": []})
        return httpx.Response(200, json=ANSWER)

    async def observe() -> Observation:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            target = Target(http, "c", streamed=False, style="short")
            return await target.observe("what does its forget gate do?", 5, HISTORY)

    seen = asyncio.run(observe())
    assert seen.answer == ANSWER["answer"] and seen.timings["first_token_ms"] == 20.0
    assert bodies["/v1/ask"] == {
        "question": "what does its forget gate do?",
        "top_k": 5,
        "collection": "c",
        "history": [
            {"role": "user", "content": "what is an lstm?"},
            {"role": "assistant", "content": "A recurrent network [1]."},
        ],
        "style": "short",
    }
    # retrieval is judged on what the service searches with: it is told the conversation
    search = bodies["/v1/search"]
    assert search["query"] == "what does its forget gate do?"
    assert search["history"] == bodies["/v1/ask"]["history"]


def test_the_default_style_is_left_to_the_service() -> None:
    body = ask_body("q", 3, "c")
    assert "style" not in body and body["history"] == []
    assert "style" not in ask_body("q", 3, "c", style="explain")  # the API's own default
    assert ask_body("q", 3, "c", style="short")["style"] == "short"


class Clock:
    """``time.perf_counter`` stand-in, in seconds, set by the fake stream."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def frame(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _streamed_timings(events: list[tuple[float, str, object]]) -> dict[str, float | None]:
    clock = Clock()

    async def stream() -> AsyncIterator[bytes]:
        for at, event, data in events:
            clock.now = at
            yield frame(event, data)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=stream())

    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(target_module.time, "perf_counter", clock)
            _, timings = await Target(http, "c", streamed=True).ask("q", 5)
    return timings


@pytest.mark.parametrize(
    ("events", "first"),
    [
        ([(0.05, "draft", {"text": "d", "citations": []}), (0.5, "token", {"text": "t"})], 50.0),
        ([(0.3, "token", {"text": "t"}), (0.4, "token", {"text": "u"})], 300.0),
        ([(0.2, "citations", {}), (0.25, "draft", {"text": "d", "citations": []})], 250.0),
        ([(0.2, "citations", {})], None),  # an abstention streams no content
    ],
    ids=["draft-first", "tokens-only", "draft-only", "no-content"],
)
def test_first_token_time_is_the_first_draft_or_token(
    events: list[tuple[float, str, object]], first: float | None
) -> None:
    timings = asyncio.run(_streamed_timings([*events, (1.0, "done", ANSWER)]))
    assert timings["first_token_ms"] == (None if first is None else pytest.approx(first))
    assert timings["total_ms"] == pytest.approx(1000.0)
    assert timings["retrieval_ms"] == 5.0
