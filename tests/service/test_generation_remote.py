"""The remote generator: against a real llama.cpp server, and through mock transports."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from service.errors import GeneratorTimeout, GeneratorUnavailable, Overloaded
from service.generation import (
    GenerationParams,
    LlamaCppGenerator,
    Message,
    OpenAIGenerator,
    default_gguf_path,
)
from tests.service.llama_server import LlamaServer, free_port, start_llama_server

CAPITAL = [
    Message("system", "You are a concise assistant."),
    Message("user", "What is the capital of France?"),
]
MOCK_URL = "http://generator.test/v1"

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaServer]:
    with start_llama_server(default_gguf_path()) as running:
        yield running


async def collect(generator: OpenAIGenerator, params: GenerationParams | None = None) -> str:
    """The whole answer to CAPITAL; closes the generator."""
    try:
        return "".join([p async for p in generator.stream(CAPITAL, params or GenerationParams())])
    finally:
        await generator.aclose()


def mocked(handler: Handler, **options: Any) -> OpenAIGenerator:
    return OpenAIGenerator(MOCK_URL, "m", transport=httpx.MockTransport(handler), **options)


def sse(*events: object, done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(event)}\n\n" for event in events]
    return ("".join(lines) + ("data: [DONE]\n\n" if done else "")).encode()


def delta(content: str | None) -> dict[str, object]:
    piece = {} if content is None else {"content": content}
    return {"choices": [{"index": 0, "delta": piece, "finish_reason": None}]}


@pytest.mark.integration
def test_streams_from_a_real_server(server: LlamaServer) -> None:
    generator = OpenAIGenerator(server.base_url, server.model)

    text = asyncio.run(collect(generator, GenerationParams(max_tokens=32)))

    assert "paris" in text.lower()


@pytest.mark.integration
def test_leaving_early_leaves_the_server_usable(server: LlamaServer) -> None:
    async def leave_then_ask_again() -> str:
        generator = OpenAIGenerator(server.base_url, server.model)
        essay = [Message("user", "Write a long essay about the Roman Empire.")]
        stream = generator.stream(essay, GenerationParams(max_tokens=400))
        await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        assert generator.queue_depth == 0
        return await collect(generator, GenerationParams(max_tokens=16))

    assert asyncio.run(leave_then_ask_again()).strip()


def test_a_closed_port_is_unavailable_and_named() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"

    with pytest.raises(GeneratorUnavailable) as failure:
        asyncio.run(collect(OpenAIGenerator(url, "m")))

    assert f"{url}/chat/completions" in failure.value.message
    assert "connection failed" in failure.value.message


def test_sends_the_request_and_yields_the_deltas() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = sse(delta(None), delta("Par"), delta("is"), {"choices": [], "usage": {}})
        return httpx.Response(200, content=body)

    generator = OpenAIGenerator(MOCK_URL, "m", "secret", transport=httpx.MockTransport(handler))
    params = GenerationParams(max_tokens=7, temperature=0.5, stop=("\n",))

    assert asyncio.run(collect(generator, params)) == "Paris"
    request = seen[0]
    assert request.url == f"{MOCK_URL}/chat/completions"
    assert request.headers["Authorization"] == "Bearer secret"
    assert json.loads(request.content) == {
        "model": "m",
        "messages": [{"role": m.role, "content": m.content} for m in CAPITAL],
        "stream": True,
        "max_tokens": 7,
        "temperature": 0.5,
        "stop": ["\n"],
    }


def test_how_sure_the_model_is_comes_from_the_servers_log_probabilities() -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        choice = {"message": {"content": "Paris"}, "logprobs": {"content": [{"logprob": -0.5}]}}
        return httpx.Response(200, json={"choices": [choice]})

    sure = asyncio.run(mocked(handler).first_token_probability(CAPITAL))

    assert sure == pytest.approx(0.6065, abs=1e-4)
    assert seen[0]["max_tokens"] == 1 and seen[0]["stream"] is False
    assert seen[0]["logprobs"] is True and seen[0]["temperature"] == 0.0


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json={"choices": [{"message": {"content": "Paris"}}]}),
        httpx.Response(200, json={"choices": [{"logprobs": None}]}),
        httpx.Response(400, json={"error": {"message": "logprobs is not supported"}}),
        httpx.Response(200, content=b"<html>Bad gateway</html>"),
    ],
)
def test_a_server_without_log_probabilities_cannot_tell(response: httpx.Response) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return response

    assert asyncio.run(mocked(handler).first_token_probability(CAPITAL)) is None


@pytest.mark.integration
def test_llama_cpps_server_is_as_sure_as_the_embedded_model_on_the_same_file(
    server: LlamaServer,
) -> None:
    async def both() -> tuple[float | None, float | None]:
        remote = OpenAIGenerator(server.base_url, server.model)
        embedded = LlamaCppGenerator(default_gguf_path())
        try:
            return (
                await remote.first_token_probability(CAPITAL),
                await embedded.first_token_probability(CAPITAL),
            )
        finally:
            await remote.aclose()
            await embedded.aclose()

    remote, embedded = asyncio.run(both())

    assert remote is not None and embedded is not None
    assert remote == pytest.approx(embedded, rel=0.05)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>Bad gateway</html>", "without [DONE]"),
        (b"data: {not json\n\n", "malformed JSON"),
        (sse({"unexpected": True}), "unexpected shape"),
        (sse({"choices": [{"delta": {"content": 3}}]}), "unexpected shape"),
        (sse(delta("a"), {"error": {"message": "model crashed"}}), "model crashed"),
    ],
)
def test_an_unreadable_stream_is_unavailable(body: bytes, expected: str) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    with pytest.raises(GeneratorUnavailable) as failure:
        asyncio.run(collect(mocked(handler)))

    assert expected in failure.value.message
    assert MOCK_URL in failure.value.message


def test_an_error_status_is_unavailable_with_the_servers_reason() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "CUDA out of memory"}})

    with pytest.raises(GeneratorUnavailable) as failure:
        asyncio.run(collect(mocked(handler)))

    assert failure.value.message == (
        f"{MOCK_URL}/chat/completions answered HTTP 500: CUDA out of memory"
    )


def test_a_slow_server_times_out() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return httpx.Response(200, content=sse(delta("late")))

    started = time.monotonic()
    with pytest.raises(GeneratorTimeout, match=r"did not answer within 0\.2 seconds"):
        asyncio.run(collect(mocked(handler, timeout=0.2)))
    assert time.monotonic() - started < 5


def test_a_stream_that_stalls_times_out() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        yield sse(delta("first"), done=False)
        await asyncio.sleep(10)

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle())

    with pytest.raises(GeneratorTimeout):
        asyncio.run(collect(mocked(handler, timeout=0.2)))


def test_too_many_waiting_requests_are_overloaded() -> None:
    async def overfill() -> Overloaded:
        release = asyncio.Event()

        async def handler(request: httpx.Request) -> httpx.Response:
            await release.wait()
            return httpx.Response(200, content=sse(delta("ok")))

        generator = mocked(handler, max_concurrency=1, max_waiting=1)
        streams = [generator.stream(CAPITAL, GenerationParams()) for _ in range(3)]
        running = asyncio.create_task(anext(streams[0]))
        waiting = asyncio.create_task(anext(streams[1]))
        while generator.queue_depth < 2:
            await asyncio.sleep(0.01)
        with pytest.raises(Overloaded) as refused:
            await anext(streams[2])
        release.set()
        assert await running == "ok"
        await streams[0].aclose()  # type: ignore[attr-defined]  # frees the slot
        assert await waiting == "ok"
        await streams[1].aclose()  # type: ignore[attr-defined]
        await generator.aclose()
        return refused.value

    refused = asyncio.run(overfill())

    assert refused.status == 503
    assert "Retry-After" in refused.headers


def test_a_closed_generator_is_unavailable() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sse(delta("ok")))

    generator = mocked(handler)
    asyncio.run(generator.aclose())

    with pytest.raises(GeneratorUnavailable, match="has been closed"):
        asyncio.run(collect(generator))
