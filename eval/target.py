"""The service under evaluation, reached through its HTTP API.

One client serves both ways of running: over the network against a running
service (``--url``; answers are streamed and timed as a learner's browser
would see them), or in process, where the same app is called through an
ASGI transport (answers come whole; first-token and total times are the
service's own).  Either way the questions take the service's code path.

Per question: ``POST /v1/search`` (top 10, for the retrieval metrics and the
full text of the passages) and ``POST /v1/ask`` with the conversation before
the question (``history``) and the answer ``style`` (left out when it is the
API's default, ``explain``).  A follow-up's search query is preceded by the
last user turn, as the service retrieves for it.

Streamed, the first-token time is that of the first content the learner
sees: the ``draft`` event (an answer sent before the generated tokens) or the
first ``token``, whichever comes first.  It keeps the key ``first_token_ms``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from eval.scoring import Observation, Passage
from service.schemas import AnswerStyle

SEARCH_K = 10
# A rate-limited (429) or busy (503) service is waited for, as its Retry-After asks.
_BUSY = (429, 503)
_RETRIES = 5
_MAX_WAIT_SECONDS = 60.0


Timings = dict[str, float | None]
Turns = Sequence[tuple[str, str]]  # (role, content)
Scope = dict[str, Any]  # the /v1/ask and /v1/search "scope" object
Style = AnswerStyle
# The API's default style is not sent, so a service that predates the field still answers.
DEFAULT_STYLE: Style = "explain"
_CONTENT_EVENTS = ("draft", "token")  # what the learner sees first


class TargetError(RuntimeError):
    """The service refused or failed a request; the message says how."""


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or response.reason_phrase


async def _sse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, Any]]:
    """``(event, data)`` pairs from a server-sent event stream."""
    event, data = "message", []
    async for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            yield event, json.loads("\n".join(data))
            event, data = "message", []


async def _waited(response: httpx.Response) -> bool:
    """Sleep for a refused request's Retry-After; whether it was refused that way."""
    if response.status_code not in _BUSY:
        return False
    try:
        seconds = float(response.headers.get("retry-after", "1"))
    except ValueError:
        seconds = 1.0
    await asyncio.sleep(min(max(seconds, 0.1), _MAX_WAIT_SECONDS))
    return True


def _passage(hit: dict[str, Any], text: str | None = None) -> Passage:
    return Passage(
        chunk_id=hit["chunk_id"],
        source=hit["source"],
        text=text if text is not None else hit.get("text", hit.get("snippet", "")),
        page=hit.get("page"),
        score=float(hit.get("score", 0.0)),
        dense_score=hit.get("dense_score"),
    )


def _turns(history: Turns) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in history]


def ask_body(
    question: str,
    top_k: int,
    collection: str,
    history: Turns = (),
    style: Style | None = None,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """The ``/v1/ask`` request for one question (``style`` left out when it is the default)."""
    body: dict[str, Any] = {"question": question, "top_k": top_k, "collection": collection}
    body["history"] = _turns(history)
    if style not in (None, DEFAULT_STYLE):
        body["style"] = style
    if scope is not None:
        body["scope"] = scope
    return body


def observation(
    answer: dict[str, Any], hits: list[dict[str, Any]], timings: Timings
) -> Observation:
    """An ``/v1/ask`` response and the search hits as an :class:`Observation`."""
    texts = {h["chunk_id"]: h["text"] for h in hits}
    grounding = answer["grounding"]
    cited = [_passage(c, texts.get(c["chunk_id"])) for c in answer["citations"]]
    return Observation(
        answer=answer["answer"],
        mode=answer["mode"],
        reason=grounding["reason"],
        cited=cited,
        retrieved=[_passage(h) for h in hits],
        supported=[s["supported"] for s in grounding["sentences"]],
        best_score=grounding["best_passage_score"],
        abstain_threshold=grounding["abstain_threshold"],
        timings=timings,
        rejected_answer=grounding.get("rejected_answer"),
        quote="\n\n".join(q["text"] for q in answer.get("quotes") or []) or None,
    )


class Target:
    """Asks a Syllabus service; ``streamed`` times answers on the client side."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        collection: str,
        *,
        streamed: bool,
        style: Style | None = None,
    ) -> None:
        self._http = http
        self.collection = collection
        self.streamed = streamed
        self.style = style

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.post(path, json=body)
        for _ in range(_RETRIES):
            if not await _waited(response):
                break
            response = await self._http.post(path, json=body)
        if response.status_code != 200:
            raise TargetError(f"{path}: {response.status_code} {_error_message(response)}")
        payload: dict[str, Any] = response.json()
        return payload

    async def search(
        self, question: str, history: Turns = (), scope: Scope | None = None
    ) -> tuple[list[dict[str, Any]], float]:
        started = time.perf_counter()
        body: dict[str, Any] = {"query": question, "top_k": SEARCH_K, "collection": self.collection}
        body["history"] = _turns(history)
        if scope is not None:
            body["scope"] = scope
        hits = (await self._post("/v1/search", body))["hits"]
        return hits, (time.perf_counter() - started) * 1000

    async def ask(
        self, question: str, top_k: int, history: Turns = (), scope: Scope | None = None
    ) -> tuple[dict[str, Any], Timings]:
        """The final answer and its timings (ms)."""
        body = ask_body(question, top_k, self.collection, history, self.style, scope)
        if not self.streamed:
            answer = await self._post("/v1/ask", body)
            return answer, dict(answer["timings"])
        return await self._ask_streamed(body | {"stream": True})

    async def _ask_streamed(self, body: dict[str, Any]) -> tuple[dict[str, Any], Timings]:
        for _ in range(_RETRIES):
            started = time.perf_counter()
            async with self._http.stream("POST", "/v1/ask", json=body) as response:
                if response.status_code in _BUSY:
                    await response.aread()
                    await _waited(response)
                    continue
                return await self._read_stream(response, started)
        raise TargetError(f"/v1/ask: still refused after {_RETRIES} tries (rate limit or queue)")

    async def _read_stream(
        self, response: httpx.Response, started: float
    ) -> tuple[dict[str, Any], Timings]:
        if response.status_code != 200:
            await response.aread()
            raise TargetError(f"/v1/ask: {response.status_code} {_error_message(response)}")
        first: float | None = None
        async for event, data in _sse(response.aiter_lines()):
            if event in _CONTENT_EVENTS and first is None:
                first = (time.perf_counter() - started) * 1000
            elif event == "error":
                raise TargetError(f"/v1/ask stream: {data['error']['message']}")
            elif event == "done":
                timings = {
                    "retrieval_ms": data["timings"]["retrieval_ms"],
                    "first_token_ms": first,
                    "total_ms": (time.perf_counter() - started) * 1000,
                }
                return data, timings
        raise TargetError("/v1/ask stream ended without a final answer")

    async def observe(
        self, question: str, top_k: int, history: Turns = (), scope: Scope | None = None
    ) -> Observation:
        """Search and ask one question (after ``history``, within ``scope``), timed."""
        hits, search_ms = await self.search(question, history, scope)
        answer, timings = await self.ask(question, top_k, history, scope)
        return observation(answer, hits, timings | {"search_ms": search_ms})

    async def describe(self) -> dict[str, Any]:
        """The collection as the service lists it (documents, chunks, index version)."""
        response = await self._http.get("/v1/collections")
        if response.status_code != 200:
            raise TargetError(f"/v1/collections: {response.status_code}")
        for entry in response.json()["collections"]:
            if entry["name"] == self.collection:
                return dict(entry)
        raise TargetError(f"the service has no collection {self.collection!r}")
