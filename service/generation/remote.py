"""The remote generator: any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama).

It streams ``POST {base_url}/chat/completions`` as server-sent events and yields
each ``choices[0].delta.content``. What can go wrong is told in the server's
terms: refused or unreachable, a non-2xx status, a stream it cannot read
(``GeneratorUnavailable``), or silence longer than ``timeout`` seconds
(``GeneratorTimeout``). The timeout is enforced here as well as by httpx, so it
holds for any transport, including the ones tests inject.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

import httpx

from service.errors import GeneratorTimeout, GeneratorUnavailable, Overloaded
from service.generation.base import GenerationParams, Message

logger = logging.getLogger(__name__)

_SNIPPET = 200  # characters of a bad answer quoted in an error message


class OpenAIGenerator:
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    ``base_url`` includes the API prefix, e.g. ``http://127.0.0.1:8001/v1``. At most
    ``max_concurrency`` requests run at once and ``max_waiting`` more wait for a
    turn; beyond that ``stream`` raises ``Overloaded`` at its first iteration.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        max_concurrency: int = 16,
        max_waiting: int = 64,
    ) -> None:
        if max_concurrency < 1 or max_waiting < 0:
            raise ValueError("max_concurrency must be at least 1 and max_waiting at least 0")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max_concurrency)
        self._capacity = max_concurrency + max_waiting
        self._depth = 0
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(timeout), transport=transport
        )

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def queue_depth(self) -> int:
        """Requests waiting for or holding a connection to the server right now."""
        return self._depth

    async def stream(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[str]:
        """Yield the answer piece by piece; leaving early closes the connection."""
        if self._client.is_closed:
            raise GeneratorUnavailable(f"the client of {self._url} has been closed")
        if self._depth >= self._capacity:
            raise Overloaded(f"{self._depth} requests to {self._url} are already in flight")
        self._depth += 1
        try:
            async with (
                self._slots,
                aclosing(self._pieces(_body(self._model, messages, params))) as pieces,
            ):
                async for piece in pieces:
                    yield piece
        finally:
            self._depth -= 1

    async def first_token_probability(self, messages: list[Message]) -> float | None:
        """The probability of the first token of the greedy reply, from the server's
        log-probabilities (one token asked for, with ``logprobs``: vLLM and llama.cpp's
        servers give them); ``None`` when the server gives none or cannot be asked."""
        body = _body(self._model, messages, GenerationParams(max_tokens=1)) | {
            "stream": False,
            "logprobs": True,
            "top_logprobs": 1,
        }
        try:
            async with self._slots, asyncio.timeout(self._timeout):
                response = await self._client.post(self._url, json=body)
            if not response.is_success:
                return None
            logprob = response.json()["choices"][0]["logprobs"]["content"][0]["logprob"]
            return math.exp(float(logprob))
        except (httpx.HTTPError, TimeoutError, ValueError, KeyError, IndexError, TypeError):
            logger.debug("no first-token probability from %s", self._url, exc_info=True)
            return None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _pieces(self, body: dict[str, Any]) -> AsyncGenerator[str, None]:
        """Stream one request, turning every transport failure into a service error."""
        try:
            async with asyncio.timeout(self._timeout):
                request = self._client.build_request("POST", self._url, json=body)
                response = await self._client.send(request, stream=True)
            try:
                await self._check_status(response)
                async with aclosing(self._data(response)) as events:
                    async for data in events:
                        if data == "[DONE]":
                            return
                        piece = self._content(data)
                        if piece:
                            yield piece
                raise GeneratorUnavailable(f"{self._url} ended its stream without [DONE]")
            finally:
                await response.aclose()
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise GeneratorTimeout(
                f"{self._url} did not answer within {self._timeout:g} seconds"
            ) from exc
        except httpx.HTTPError as exc:
            raise GeneratorUnavailable(f"cannot reach {self._url}: {_describe(exc)}") from exc

    async def _check_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        async with asyncio.timeout(self._timeout):
            await response.aread()
        detail = _error_detail(response.text)
        raise GeneratorUnavailable(
            f"{self._url} answered HTTP {response.status_code}" + (f": {detail}" if detail else "")
        )

    async def _data(self, response: httpx.Response) -> AsyncGenerator[str, None]:
        """The ``data:`` payloads of an event stream, each awaited at most ``timeout``."""
        lines = cast(AsyncGenerator[str, None], response.aiter_lines())
        async with aclosing(lines):
            while True:
                async with asyncio.timeout(self._timeout):
                    line = await anext(lines, None)
                if line is None:
                    return
                # Other SSE fields (event:, id:, comments) carry nothing we need.
                if line.startswith("data:"):
                    yield line.removeprefix("data:").strip()

    def _content(self, data: str) -> str | None:
        """The text in one stream chunk; ``None`` for chunks without any (role, usage)."""
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            raise GeneratorUnavailable(
                f"{self._url} sent malformed JSON in its stream: {data[:_SNIPPET]!r}"
            ) from None
        if isinstance(chunk, dict) and "error" in chunk:
            raise GeneratorUnavailable(
                f"{self._url} reported an error: {_error_detail(json.dumps(chunk))}"
            )
        try:
            choices = chunk["choices"]
            content = choices[0]["delta"].get("content") if choices else None
        except (KeyError, IndexError, TypeError, AttributeError):
            raise self._unexpected(data) from None
        if content is not None and not isinstance(content, str):
            raise self._unexpected(data)
        return content

    def _unexpected(self, data: str) -> GeneratorUnavailable:
        return GeneratorUnavailable(
            f"{self._url} sent a chunk of unexpected shape: {data[:_SNIPPET]!r}"
        )


def _body(model: str, messages: list[Message], params: GenerationParams) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "stream": True,
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
    }
    if params.stop:
        body["stop"] = list(params.stop)
    return body


def _error_detail(text: str) -> str:
    """The message of an OpenAI- or FastAPI-style error body, else the body's start."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return " ".join(text.split())[:_SNIPPET]
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed.get("detail"))
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:_SNIPPET]
        if isinstance(error, str):
            return error[:_SNIPPET]
    return text[:_SNIPPET]


def _describe(exc: httpx.HTTPError) -> str:
    """A one-line reason: the exception's text, or its kind when it has none."""
    text = str(exc).strip()
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed ({text or 'refused'})"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
