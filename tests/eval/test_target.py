"""The evaluation client waits out a rate limit instead of failing the question."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from eval.target import Target, TargetError


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
