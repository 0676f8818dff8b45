"""The MCP endpoint in process, on the fake-embedded notes: the API's messages for bad
arguments, its keys, limits and collection rules, and refusals at the HTTP layer.

The official client over both real transports is in tests/e2e/test_mcp.py;
here JSON-RPC goes to /mcp as a client would send it, through the app's HTTP stack.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mcp import Client

from service.app import create_app
from service.components import components_of
from service.mcp_server import LOCAL, build_server
from service.schemas import AskResponse, SearchResponse
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import FakeGenerator, ingest_notes
from tests.service.keys import AS_ADMIN, AS_ASKER

HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
QUESTION = {"question": "How does Adam bias correction work?"}


def rpc(
    client: TestClient, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    return client.post("/mcp", json=body, headers={**HEADERS, **(headers or {})})


def call(
    client: TestClient, tool: str, arguments: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The result of a tools/call: ``structuredContent``, ``isError`` and ``content``."""
    response = rpc(client, "tools/call", {"name": tool, "arguments": arguments}, headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def error_of(result: dict[str, Any]) -> dict[str, str]:
    assert result["isError"] is True
    error: dict[str, str] = result["structuredContent"]["error"]
    assert result["content"][0]["text"] == f"{error['code']}: {error['message']}"
    return error


@pytest.fixture
def keyed(admin_settings: Settings, fake_generator: FakeGenerator) -> Iterator[TestClient]:
    """Asking needs a key (an ask key or the admin key); one question per caller."""
    settings = admin_settings.model_copy(
        update={"require_ask_key": True, "rate_limit_per_minute": 1, "rate_limit_burst": 1}
    )
    ingest_notes(settings.data_dir)
    with TestClient(create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)) as c:
        yield c


def test_the_tools_answer_as_the_api_does(client: TestClient) -> None:
    asked = call(client, "ask", QUESTION)
    answer = AskResponse.model_validate(asked["structuredContent"])
    api = AskResponse.model_validate(client.post("/v1/ask", json=QUESTION).json())
    assert (answer.answer, answer.mode) == (api.answer, api.mode)
    assert [c.source for c in answer.citations] == [c.source for c in api.citations]
    found = call(client, "search", {"query": "low-rank matrices", "top_k": 2})
    hits = SearchResponse.model_validate(found["structuredContent"]).hits
    assert hits[0].source.endswith("lora.md") and hits[0].heading_path == ["LoRA"]
    assert "lora.md — LoRA" in found["content"][0]["text"]


@pytest.mark.parametrize(
    ("tool", "path", "arguments"),
    [
        ("ask", "/v1/ask", {"question": ""}),
        ("ask", "/v1/ask", {"question": "\u3000\n"}),
        ("ask", "/v1/ask", {"question": "x" * 2001}),
        ("ask", "/v1/ask", {"question": "What?", "top_k": 21, "style": "long"}),
        ("ask", "/v1/ask", {"question": "What?", "history": [{"role": "system", "content": ""}]}),
        ("ask", "/v1/ask", {"question": "What?", "collection": ""}),
        ("ask", "/v1/ask", {"question": "What?", "scope": {}}),
        ("ask", "/v1/ask", {"question": "What?", "colection": "default"}),
        ("ask", "/v1/ask", {}),
        ("search", "/v1/search", {"query": "adam", "top_k": 51}),
        ("search", "/v1/search", {"query": 3}),
        ("search", "/v1/search", {"query": "adam", "scope": {"page": "not a page"}}),
    ],
)
def test_bad_arguments_get_the_api_message(
    client: TestClient, tool: str, path: str, arguments: dict[str, Any]
) -> None:
    api = client.post(path, json=arguments)
    assert api.status_code == 422
    assert error_of(call(client, tool, arguments)) == api.json()["error"]


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        ({**QUESTION, "collection": "ml-999"}, "not_found", "unknown collection 'ml-999'"),
        ({**QUESTION, "scope": {"documents": ["nowhere.md"]}}, "scope_empty", "nowhere.md"),
    ],
)
def test_collection_rules_are_the_api_rules(
    client: TestClient, arguments: dict[str, Any], code: str, message: str
) -> None:
    api = client.post("/v1/ask", json=arguments).json()["error"]
    error = error_of(call(client, "ask", arguments))
    assert error == api and error["code"] == code and message in error["message"]


def test_an_invalid_course_file_makes_that_collection_unavailable(
    client: TestClient, settings: Settings
) -> None:
    (settings.data_dir / "default" / "course.json").write_text('{"abstain_threshold": 7}')
    error = error_of(call(client, "ask", QUESTION))
    assert error["code"] == "collection_unavailable" and "abstain_threshold" in error["message"]
    read = rpc(client, "resources/read", {"uri": "syllabus://collections/default"}).json()
    assert "course.json is invalid" in read["error"]["message"]


def test_an_unexpected_failure_is_a_tool_error_and_the_server_goes_on(
    client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(question: object) -> None:
        raise RuntimeError("disk on fire")

    answerer = components_of(cast(FastAPI, client.app)).answerer
    monkeypatch.setattr(answerer, "answer", broken)
    with caplog.at_level(logging.ERROR):
        error = error_of(call(client, "ask", QUESTION))
    assert error == {
        "code": "internal",
        "message": "internal error; the server log has the details",
    }
    assert "disk on fire" in caplog.text  # the traceback is in the log, not in the answer
    assert error_of(call(client, "no_such_tool", {}))["code"] == "not_found"
    assert not call(client, "search", {"query": "adam"})["isError"]


def test_keys_are_the_api_keys(keyed: TestClient) -> None:
    refused = rpc(keyed, "tools/list", {})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="syllabus"'
    error = refused.json()["error"]
    assert error["message"] == "this endpoint needs a key: send 'Authorization: Bearer <key>'"
    assert error["data"] == {"code": "unauthorized"}
    wrong = rpc(keyed, "tools/list", {}, {"Authorization": "Bearer not-a-key-0123456789"})
    assert wrong.json()["error"]["message"] == "the key is not valid"
    for key in (AS_ASKER, AS_ADMIN):
        assert not call(keyed, "search", {"query": "adam"}, key)["isError"]


def test_questions_are_rate_limited_per_key(keyed: TestClient) -> None:
    assert not call(keyed, "ask", QUESTION, AS_ASKER)["isError"]
    limited = error_of(call(keyed, "ask", QUESTION, AS_ASKER))
    assert limited["code"] == "rate_limited" and "retry in" in limited["message"]
    assert not call(keyed, "ask", QUESTION, AS_ADMIN)["isError"]  # a bucket of its own
    assert not call(keyed, "search", {"query": "adam"}, AS_ASKER)["isError"]  # as /v1/search


def test_pages_of_other_origins_are_refused(client: TestClient) -> None:
    refused = rpc(client, "tools/list", {}, {"Origin": "http://rebound.example"})
    assert refused.status_code == 403
    assert refused.json()["error"]["data"] == {"code": "forbidden"}
    local = rpc(client, "tools/list", {}, {"Origin": "http://localhost:6274"})
    assert [t["name"] for t in local.json()["result"]["tools"]] == ["search", "ask"]


def test_requests_and_answers_are_counted_as_the_api_counts_them(client: TestClient) -> None:
    call(client, "ask", QUESTION)
    metrics = client.get("/metrics").text
    assert 'syllabus_requests_total{method="POST",route="/mcp",status="200"} 1.0' in metrics
    assert 'syllabus_answers_total{mode="generative"} 1.0' in metrics


def test_only_post_is_served(client: TestClient) -> None:
    for method in ("GET", "DELETE"):
        assert client.request(method, "/mcp", headers=HEADERS).status_code == 405


def test_before_the_app_has_started_the_endpoint_says_so(settings: Settings) -> None:
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    refused = rpc(TestClient(app), "tools/list", {})  # no lifespan: nothing loaded
    assert refused.status_code == 503
    assert refused.json()["error"]["data"] == {"code": "not_ready"}


def test_the_collections_are_resources(client: TestClient, settings: Settings) -> None:
    ingest_notes(settings.data_dir, "ml201", {"rnn.md": "# RNN\n\nAn RNN keeps a hidden state.\n"})
    listed = rpc(client, "resources/list", {}).json()["result"]["resources"]
    assert [r["uri"] for r in listed] == [
        "syllabus://collections",
        "syllabus://collections/default",
        "syllabus://collections/ml201",
    ]
    read = rpc(client, "resources/read", {"uri": "syllabus://collections/ml201"}).json()
    one = json.loads(read["result"]["contents"][0]["text"])
    assert one["collection"]["documents"] == 1 and one["course"]["collection"] == "ml201"
    missing = rpc(client, "resources/read", {"uri": "syllabus://collections/nope"}).json()
    assert missing["error"]["message"] == "unknown collection 'nope'"


def test_the_local_user_of_stdio_is_trusted_and_limited(admin_settings: Settings) -> None:
    """The server `syllabus mcp` runs, through the SDK's in-process client: no key is
    asked for, and the local user's questions have the same rate limit."""
    settings = admin_settings.model_copy(
        update={"require_ask_key": True, "rate_limit_per_minute": 1, "rate_limit_burst": 1}
    )
    ingest_notes(settings.data_dir)
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())

    async def session() -> list[dict[str, str] | None]:
        async with Client(build_server(components_of(app), lambda _: LOCAL)) as mcp:
            asked = [await mcp.call_tool("ask", QUESTION) for _ in range(2)]
        return [(r.structured_content or {}).get("error") for r in asked]

    with TestClient(app) as started:  # the app's lifespan, in the portal's event loop
        assert started.portal is not None
        first, second = started.portal.call(session)
    assert first is None
    assert second is not None and second["code"] == "rate_limited"
