"""The MCP server through the official SDK's own client, over both transports: `syllabus
mcp` spawned over stdio, and `/mcp` of `syllabus serve` over streamable HTTP with an ask
key; a small collection embedded with the real model, extractive answers (no generation).

Each transport runs one session per protocol era (the 2025 initialize handshake, and
2026-07-28, which the SDK's `Client` picks) that records what every call returned; the
tests read that record, so each `syllabus mcp` process starts once.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, ClientSession, MCPError, StdioServerParameters, types
from mcp.client import Transport
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from indexes import IndexReader
from ingest import IngestReport
from service.schemas import AskResponse, SearchResponse
from tests.indexing import build_index
from tests.paths import DEMO_CORPUS
from tests.servers import serving

pytestmark = pytest.mark.integration

KEY = "mcp-ask-key-0123456789abcdef"
NOTES = ["attention.md", "lora-and-qlora.md", "quantization.pdf"]
# Extractive answers need no model; the smallest one loads fast all the same.
EXTRACTIVE = {"SYLLABUS_ANSWER_STRATEGY": "extractive", "SYLLABUS_MODEL": "smollm2-135m"}
TIMEOUT_S = 180
ERAS = ["handshake", "modern"]

CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "search": ("search", {"query": "Why are attention scores divided by sqrt(d_k)?", "top_k": 3}),
    "search_pdf": ("search", {"query": "zero-point asymmetric quantization of ReLU outputs"}),
    "ask": ("ask", {"question": "What is the rank r in LoRA?"}),
    "unknown_collection": ("ask", {"question": "What is LoRA?", "collection": "no-such-course"}),
    "search_unknown_collection": ("search", {"query": "LoRA", "collection": "no-such-course"}),
    "empty_question": ("ask", {"question": "   "}),
    "oversized_question": ("ask", {"question": "why " * 501}),
    "bad_top_k": ("search", {"query": "LoRA", "top_k": 0}),
    "unknown_argument": ("ask", {"question": "What is LoRA?", "stream": True}),
    "wrong_type": ("ask", {"question": ["not", "text"]}),
    "unknown_tool": ("drop_collection", {"collection": "default"}),
    "after_errors": ("search", {"query": "low-rank adaptation", "top_k": 1}),
}


async def _calls(client: Client | ClientSession) -> dict[str, Any]:
    """Every call of one session, by name: results, or the MCPError a call raised."""
    found: dict[str, Any] = {"era": client.protocol_version, "instructions": client.instructions}
    found["tools"] = await client.list_tools()
    found["resources"] = await client.list_resources()
    found["templates"] = await client.list_resource_templates()
    for uri in ("syllabus://collections", "syllabus://collections/default"):
        found[uri] = await client.read_resource(uri)
    try:
        await client.read_resource("syllabus://collections/no-such-course")
    except MCPError as exc:
        found["missing_resource"] = exc
    for name, (tool, arguments) in CALLS.items():
        found[name] = await client.call_tool(tool, arguments)
    return found


async def _session(transport: Transport, era: str) -> dict[str, Any]:
    """The calls over ``transport`` in a protocol era: the initialize handshake
    (ClientSession, the 2025 versions) or the client's own choice (Client: 2026-07-28)."""
    if era == "modern":
        async with Client(transport, read_timeout_seconds=TIMEOUT_S) as client:
            return {"asked": era, **await _calls(client)}
    async with (
        transport as (read, write),
        ClientSession(read, write, read_timeout_seconds=TIMEOUT_S) as session,
    ):
        await session.initialize()
        return {"asked": era, **await _calls(session)}


def _environment(**settings: str) -> dict[str, str]:
    """This process's environment without the developer's SYLLABUS_* settings, plus these."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("SYLLABUS_")}
    return {**kept, **EXTRACTIVE, **settings}


@pytest.fixture(scope="module")
def course(real_embedder: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two notes and a PDF of corpus/, indexed with the real embedder."""
    index = tmp_path_factory.mktemp("mcp-course") / "index"
    built: tuple[IndexReader, IngestReport] = build_index(
        real_embedder, [DEMO_CORPUS / name for name in NOTES], index
    )
    assert not built[1].failed
    return index


def _over_stdio(course: Path, home: Path, era: str) -> dict[str, Any]:
    """The calls to `syllabus mcp`, spawned by the SDK's stdio client."""
    shutil.copytree(course, home / "collections" / "default")
    server = StdioServerParameters(
        command=str(Path(sys.executable).with_name("syllabus")),
        args=["mcp"],
        env=_environment(SYLLABUS_DATA_DIR=str(home / "collections")),
        cwd=home,
    )
    log = home / "stderr.log"

    async def session() -> dict[str, Any]:
        with log.open("w") as errlog:
            return await _session(stdio_client(server, errlog=errlog), era)

    try:
        return anyio.run(session)
    except Exception as exc:
        raise RuntimeError(f"`syllabus mcp` failed: {exc!r}\n{log.read_text()[-3000:]}") from exc


@pytest.fixture(scope="module")
def served(course: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`syllabus serve` with asking behind a key; its base URL."""
    env = {**EXTRACTIVE, "SYLLABUS_REQUIRE_ASK_KEY": "true", "SYLLABUS_ASK_API_KEYS": KEY}
    with serving({"default": course}, tmp_path_factory.mktemp("mcp-http"), env) as url:
        yield url


async def _over_http(url: str, headers: dict[str, str], era: str) -> dict[str, Any]:
    async with httpx2.AsyncClient(headers=headers, timeout=TIMEOUT_S) as http:
        return await _session(streamable_http_client(f"{url}/mcp", http_client=http), era)


@pytest.fixture(
    scope="module",
    params=[(transport, era) for transport in ("stdio", "http") for era in ERAS],
    ids="-".join,
)
def transcript(
    request: pytest.FixtureRequest, course: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """What every call returned over one transport in one protocol era."""
    transport, era = request.param
    if transport == "stdio":
        return _over_stdio(course, tmp_path_factory.mktemp("mcp-stdio"), era)
    served = request.getfixturevalue("served")
    return anyio.run(_over_http, served, {"Authorization": f"Bearer {KEY}"}, era)


def _error(result: types.CallToolResult) -> dict[str, str]:
    """A tool error's code and message, checked to be the same in text and structure."""
    assert result.is_error
    error: dict[str, str] = result.structured_content["error"]
    text = result.content[0]
    assert isinstance(text, types.TextContent)
    assert text.text == f"{error['code']}: {error['message']}"
    return error


def _text(result: types.CallToolResult) -> str:
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def test_the_era_the_client_chose_is_served(transcript: dict[str, Any]) -> None:
    expected = "2026-07-28" if transcript["asked"] == "modern" else "2025-11-25"
    assert transcript["era"] == expected


def test_the_tools_are_search_and_ask_with_the_api_schemas(transcript: dict[str, Any]) -> None:
    tools = {tool.name: tool for tool in transcript["tools"].tools}
    assert set(tools) == {"search", "ask"}
    ask = tools["ask"].input_schema
    assert ask["required"] == ["question"]
    assert ask["properties"]["question"]["maxLength"] == 2000
    assert "stream" not in ask["properties"]
    assert tools["search"].input_schema["properties"]["top_k"]["maximum"] == 50
    assert all(tool.output_schema and tool.annotations.read_only_hint for tool in tools.values())
    assert "search" in (transcript["instructions"] or "")


def test_search_returns_passages_with_source_page_and_heading(transcript: dict[str, Any]) -> None:
    text = _text(transcript["search"])
    found = SearchResponse.model_validate(transcript["search"].structured_content)
    assert found.collection == "default" and len(found.hits) == 3
    best = found.hits[0]
    assert best.source.endswith("attention.md") and best.heading_path and best.text
    assert f"1. {best.source} — {' > '.join(best.heading_path)}" in text
    pdf = SearchResponse.model_validate(transcript["search_pdf"].structured_content).hits[0]
    assert pdf.source.endswith("quantization.pdf") and pdf.page is not None


def test_ask_returns_the_answer_its_mode_and_citations(transcript: dict[str, Any]) -> None:
    text = _text(transcript["ask"])
    answer = AskResponse.model_validate(transcript["ask"].structured_content)
    assert answer.mode == "extractive", answer.grounding.reason
    assert answer.citations and all(f"[{c.n}]" in answer.answer for c in answer.citations)
    first = answer.citations[0]
    assert first.source.endswith("lora-and-qlora.md") and first.heading_path
    assert text.startswith(answer.answer)
    assert f"mode: extractive ({answer.grounding.reason})" in text
    assert f"[{first.n}] {first.source} — {' > '.join(first.heading_path)}" in text


@pytest.mark.parametrize("call", ["unknown_collection", "search_unknown_collection"])
def test_an_unknown_collection_is_a_tool_error(transcript: dict[str, Any], call: str) -> None:
    assert _error(transcript[call]) == {
        "code": "not_found",
        "message": "unknown collection 'no-such-course'",
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("empty_question", "question: must not be empty or whitespace"),
        ("oversized_question", "question: String should have at most 2000 characters"),
        ("bad_top_k", "top_k: Input should be greater than or equal to 1"),
        ("unknown_argument", "stream: unknown field"),
        ("wrong_type", "question: Input should be a valid string"),
    ],
)
def test_bad_arguments_are_tool_errors_with_the_api_messages(
    transcript: dict[str, Any], call: str, message: str
) -> None:
    assert _error(transcript[call]) == {"code": "invalid_request", "message": message}


def test_an_unknown_tool_is_a_tool_error_and_the_server_goes_on(
    transcript: dict[str, Any],
) -> None:
    assert _error(transcript["unknown_tool"])["code"] == "not_found"
    assert SearchResponse.model_validate(transcript["after_errors"].structured_content).hits


def test_the_collections_are_resources(transcript: dict[str, Any]) -> None:
    uris = {str(r.uri) for r in transcript["resources"].resources}
    assert uris == {"syllabus://collections", "syllabus://collections/default"}
    template = transcript["templates"].resource_templates[0]
    assert template.uri_template == "syllabus://collections/{name}"
    listed = json.loads(transcript["syllabus://collections"].contents[0].text)
    assert [c["name"] for c in listed["collections"]] == ["default"]
    one = json.loads(transcript["syllabus://collections/default"].contents[0].text)
    assert one["collection"]["documents"] == len(NOTES)
    assert one["course"]["teaching_mode"] == "answer"
    missing = transcript["missing_resource"]
    assert "unknown collection 'no-such-course'" in missing.message


def _raised(group: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups."""
    if isinstance(group, BaseExceptionGroup):
        return [leaf for inner in group.exceptions for leaf in _raised(inner)]
    return [group]


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "this endpoint needs a key: send 'Authorization: Bearer <key>'"),
        ({"Authorization": "Bearer not-the-key-0123456789"}, "the key is not valid"),
        ({"Authorization": f"Basic {KEY}"}, "the Authorization header must be 'Bearer <key>'"),
    ],
)
def test_http_refuses_a_missing_or_wrong_key(
    served: str, headers: dict[str, str], message: str, era: str
) -> None:
    with pytest.raises(BaseException) as refused:  # the client's task groups wrap it
        anyio.run(_over_http, served, headers, era)
    errors = [e for e in _raised(refused.value) if isinstance(e, MCPError)]
    assert [e.message for e in errors] == [message]
    assert errors[0].data == {"code": "unauthorized"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    response = httpx.post(f"{served}/mcp", json=ping, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="syllabus"'
    assert response.json()["error"]["message"] == message
