"""The course over the Model Context Protocol: tools ``search`` and ``ask``, the
collections as resources, on the official ``mcp`` SDK's low-level ``Server`` (its
``MCPServer`` would derive the schemas from function signatures and word the errors
itself; here both are the API's own).

The tools run in process on the app's components (``service.components``, built by
its lifespan): the Library, the Answerer, the source links and the rate limiter that
``/v1/search`` and ``/v1/ask`` use. Their arguments are the API's request schemas
(``SearchRequest``, ``AskRequest`` without ``stream``), validated by those models, so
a bad argument is refused with the message the API gives. Every failure is a tool
result with ``isError`` and the API's error body as its structured content, never a
crash of the server::

    bad arguments           invalid_request  "top_k: Input should be less than or equal to 20"
    unknown collection      not_found        "unknown collection 'ml-999'"
    no key / a wrong key    unauthorized     (HTTP, with SYLLABUS_REQUIRE_ASK_KEY)
    too many questions      rate_limited     "too many questions; retry in 3 s"
    a damaged collection    collection_unavailable
    anything unexpected     internal         (logged with its traceback)

Who calls: over stdio (``syllabus mcp``, :func:`serve_stdio`) the local user, trusted
as the CLI is; over HTTP (``/mcp``, ``service.routes.mcp_http``) whoever the request's
bearer key names, exactly as on the API.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode
from starlette.requests import Request

from indexes import DiskFull, IndexError_, Scope
from service.answering import Question
from service.answering.retrieve import retrieval_query, scoped_search
from service.components import Components, components_of
from service.course import effective
from service.errors import NotFound, ServiceError, Unauthorized, ValidationFailed, error_body
from service.schemas import (
    AskRequest,
    AskResponse,
    CollectionsResponse,
    CoursePublic,
    SearchHit,
    SearchRequest,
    SearchResponse,
    SearchScope,
)
from service.web.auth import Caller

log = logging.getLogger(__name__)

COLLECTIONS_URI = "syllabus://collections"
COLLECTION_TEMPLATE = COLLECTIONS_URI + "/{name}"
LOCAL = Caller("local", "admin")  # stdio: the user who started `syllabus mcp`

Context = ServerRequestContext[Any, Any]
Identify = Callable[[Context], Caller]

_READ_ONLY = types.ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _schema(
    model: type[BaseModel], mode: JsonSchemaMode = "validation", *, drop: str = ""
) -> dict[str, Any]:
    schema = model.model_json_schema(mode=mode)
    schema["properties"].pop(drop, None)
    return schema


SEARCH = types.Tool(
    name="search",
    title="Search the course materials",
    description="The passages of the course materials that best match `query` (dense and "
    "BM25 retrieval), each with its text, source document, page, heading path and score. "
    "`collection` names the course (the collections are listed as resources); `scope` "
    "limits the search to documents, a source folder or a section.",
    input_schema=_schema(SearchRequest),
    output_schema=_schema(SearchResponse, "serialization"),
    annotations=_READ_ONLY.model_copy(update={"idempotent_hint": True}),
)
ASK = types.Tool(
    name="ask",
    title="Ask the course a question",
    description="A short answer written from the course materials, with [n] citations "
    "(source, page, heading path), or a plain statement that the materials do not cover "
    "the question. `mode` says how it was made: generative (a model's answer that passed "
    "verification against the passages), extractive (quoted from the passages) or "
    "abstained; `grounding.reason` says why. `history` carries earlier turns for a "
    "follow-up; `style` is explain (default) or short.",
    input_schema=_schema(AskRequest, drop="stream"),
    output_schema=_schema(AskResponse, "serialization"),
    annotations=_READ_ONLY,
)


def _short(part: object, limit: int = 64) -> str:
    text = str(part)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validation_message(exc: ValidationError) -> str:
    """The message the API's 422 gives for the same fields (``service.app``)."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(_short(p) for p in error["loc"]) or "arguments"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _failure(code: str, message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=f"{code}: {message}")],
        structured_content=error_body(code, message),
        is_error=True,
    )


def tool_error(exc: Exception) -> types.CallToolResult:
    """``exc`` as the tool result a client reads, in the API's codes and messages."""
    if isinstance(exc, ValidationError):
        return _failure("invalid_request", validation_message(exc))
    if isinstance(exc, ServiceError):
        return _failure(exc.code, exc.message)
    if isinstance(exc, DiskFull):
        return _failure("insufficient_storage", str(exc))
    if isinstance(exc, IndexError_):
        log.error("collection unavailable: %s", exc)
        return _failure("collection_unavailable", f"the collection cannot be read: {exc}")
    log.exception("MCP tool failed")
    return _failure("internal", "internal error; the server log has the details")


def _hits_text(response: SearchResponse) -> str:
    if not response.hits:
        return f"No passages found in collection {response.collection!r}."
    blocks = []
    for rank, hit in enumerate(response.hits, start=1):
        page = f", page {hit.page}" if hit.page is not None else ""
        where = " > ".join(hit.heading_path) or hit.title
        blocks.append(f"{rank}. {hit.source}{page} — {where} (score {hit.score:.4f})\n{hit.text}")
    return "\n\n".join(blocks)


def _answer_text(response: AskResponse) -> str:
    lines = [response.answer]
    for quote in response.quotes:
        lines += ["", f"> {quote.text} [{quote.citation}]"]
    lines += ["", f"mode: {response.mode} ({response.grounding.reason})"]
    for cite in response.citations:
        page = f", page {cite.page}" if cite.page is not None else ""
        where = " > ".join(cite.heading_path) or cite.title
        link = f" <{cite.url}>" if cite.url else ""
        lines.append(f"[{cite.n}] {cite.source}{page} — {where}{link}")
    return "\n".join(lines)


def _result(response: BaseModel, text: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=response.model_dump(mode="json"),
    )


class CourseTools:
    """The tools and resources over an app's components."""

    def __init__(self, components: Components) -> None:
        self._parts = components

    def _collection(self, named: str | None) -> str:
        return named or self._parts.settings.collection

    async def call(
        self, name: str, arguments: Mapping[str, Any], caller: Callable[[], Caller]
    ) -> types.CallToolResult:
        """Run tool ``name``; every failure comes back as an error result."""
        try:
            if name == SEARCH.name:
                return await self.search(arguments, caller())
            if name == ASK.name:
                return await self.ask(arguments, caller())
            raise NotFound(f"unknown tool {name!r}; the tools are search and ask")
        except Exception as exc:
            return tool_error(exc)

    async def _scope(self, collection: str, wanted: SearchScope | None) -> Scope | None:
        if wanted is None:
            return None
        reader = await to_thread.run_sync(self._parts.library.reader, collection)
        links = self._parts.links
        return await to_thread.run_sync(lambda: links.resolve(collection, wanted, reader))

    async def search(self, arguments: Mapping[str, Any], caller: Caller) -> types.CallToolResult:
        """As ``POST /v1/search``: the best passages, with their sources."""
        body = SearchRequest.model_validate(arguments)
        name = self._collection(body.collection)
        reader = await to_thread.run_sync(self._parts.library.reader, name)
        scope = await self._scope(name, body.scope)
        query = retrieval_query(body.query, body.history, reader)
        hits = await to_thread.run_sync(lambda: scoped_search(reader, query, body.top_k, scope))
        links = self._parts.links
        response = SearchResponse(
            hits=[SearchHit.of(h, links.url(name, h.chunk)) for h in hits],
            collection=name,
            index_version=reader.version,
        )
        return _result(response, _hits_text(response))

    async def ask(self, arguments: Mapping[str, Any], caller: Caller) -> types.CallToolResult:
        """As ``POST /v1/ask``: a grounded answer, rate-limited per caller."""
        if self._parts.limiter is not None:
            self._parts.limiter.check(caller.identity)
        if "stream" in arguments:  # a tool's answer comes whole
            raise ValidationFailed("stream: unknown field")
        body = AskRequest.model_validate(arguments)
        name = self._collection(body.collection)
        question = Question.asked(body, name, await self._scope(name, body.scope))
        response = await self._parts.answerer.answer(question)
        self._parts.metrics.answers.labels(mode=response.mode).inc()
        return _result(response, _answer_text(response))

    def collections(self) -> CollectionsResponse:
        """As ``GET /v1/collections``."""
        return CollectionsResponse.listing(self._parts.library.collections())

    def collection(self, name: str) -> dict[str, Any]:
        """One collection: its counts (``/v1/collections``) and its course (``/v1/course``)."""
        found = [c for c in self.collections().collections if c.name == name]
        if not found:
            raise NotFound(f"unknown collection {name!r}")
        values = effective(self._parts.settings, name, self._parts.library.course(name))
        course = CoursePublic(
            collection=name,
            title=values["title"],
            greeting=values["greeting"],
            teaching_mode=values["teaching_mode"],
            answer_style=values["answer_style"],
        )
        return {"collection": found[0].model_dump(), "course": course.model_dump()}

    def read(self, uri: str) -> dict[str, Any]:
        """The JSON of resource ``uri``."""
        if uri == COLLECTIONS_URI:
            return self.collections().model_dump()
        prefix = COLLECTIONS_URI + "/"
        if uri.startswith(prefix) and uri[len(prefix) :]:
            return self.collection(uri[len(prefix) :])
        raise NotFound(f"unknown resource {uri!r}")

    def resources(self) -> list[types.Resource]:
        listed = [
            types.Resource(
                uri=COLLECTIONS_URI,
                name="collections",
                title="The courses this deployment serves",
                mime_type="application/json",
            )
        ]
        for c in self.collections().collections:
            listed.append(
                types.Resource(
                    uri=f"{COLLECTIONS_URI}/{c.name}",
                    name=c.name,
                    description=f"Collection {c.name!r}: {c.documents} documents, "
                    f"{c.chunks} passages, last ingested {c.last_ingested}.",
                    mime_type="application/json",
                )
            )
        return listed


def http_caller(components: Components) -> Identify:
    """Who a tool call over HTTP comes from: its request's bearer key, as on the API."""

    def identify(ctx: Context) -> Caller:
        request = ctx.request
        if not isinstance(request, Request):  # never trust a call that names no request
            raise Unauthorized("the call carries no HTTP request to take a key from")
        address = request.client.host if request.client else "unknown"
        return components.keyring.identify(
            request.headers.get("authorization"),
            address,
            require_key=components.settings.require_ask_key,
        )

    return identify


def _package_version() -> str:
    try:
        return metadata.version("syllabus")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "0"


def build_server(components: Components, identify: Identify) -> Server[Any]:
    """The MCP server of an app's components; ``identify`` names each tool call's caller."""
    tools = CourseTools(components)
    default = components.settings.collection

    async def list_tools(ctx: Context, params: object) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[SEARCH, ASK])

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await tools.call(params.name, params.arguments or {}, lambda: identify(ctx))

    async def list_resources(ctx: Context, params: object) -> types.ListResourcesResult:
        try:
            return types.ListResourcesResult(resources=await to_thread.run_sync(tools.resources))
        except ServiceError as exc:
            raise MCPError(types.INTERNAL_ERROR, exc.message) from None

    async def list_templates(ctx: Context, params: object) -> types.ListResourceTemplatesResult:
        template = types.ResourceTemplate(
            uri_template=COLLECTION_TEMPLATE,
            name="collection",
            title="A course: its documents and passages, and what its widget shows",
            mime_type="application/json",
        )
        return types.ListResourceTemplatesResult(resource_templates=[template])

    async def read_resource(
        ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        try:
            found = await to_thread.run_sync(tools.read, params.uri)
        except ServiceError as exc:
            code = types.INVALID_PARAMS if isinstance(exc, NotFound) else types.INTERNAL_ERROR
            raise MCPError(code, exc.message, data={"uri": params.uri, "code": exc.code}) from None
        text = json.dumps(found, ensure_ascii=False)
        contents = types.TextResourceContents(
            uri=params.uri, text=text, mime_type="application/json"
        )
        return types.ReadResourceResult(contents=[contents])

    return Server(
        "syllabus",
        version=_package_version(),
        title="Syllabus",
        instructions="Grounded, cited answers from course materials. `search` finds "
        "passages; `ask` answers from them with [n] citations or says the materials do "
        "not cover the question. Both take `collection` (default "
        f"{default!r}); the collections are the resources under {COLLECTIONS_URI}.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )


async def serve_stdio(app: FastAPI) -> None:
    """Serve ``app``'s course over stdin/stdout until the client closes them.

    The transport claims stdout before the app loads its models, so nothing printed
    while loading can corrupt the protocol stream (it goes to stderr).
    """
    try:
        async with stdio_server() as (read, write), app.router.lifespan_context(app):
            server = build_server(components_of(app), lambda _: LOCAL)
            await server.run(read, write, server.create_initialization_options())
    except BaseExceptionGroup as failed:  # report the failure itself, not the group
        raise failed.exceptions[0] from None
