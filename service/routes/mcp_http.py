"""/mcp: the course's MCP tools and resources (``service.mcp_server``) over streamable HTTP.

The endpoint takes the API's keys: with ``SYLLABUS_REQUIRE_ASK_KEY`` every request
needs an ask or an admin key, else ``401`` with ``WWW-Authenticate``; each ``ask`` call
is rate-limited per key or client address as ``/v1/ask`` is. A request from a web page
(one with an ``Origin``) is accepted only from ``SYLLABUS_CORS_ORIGINS`` or a page on
this machine, so a page that rebinds its DNS name to this host cannot drive the tools
(the transport's rule against DNS rebinding); others get ``403``. A refusal carries the
API's status and message in a JSON-RPC error (the API's code in ``error.data.code``),
the body MCP clients read and show.

Sessions are stateless: every POST stands alone and is answered with JSON, so any
replica behind a load balancer can answer it; ``GET`` (a stream of server messages)
and ``DELETE`` (ending a session) get ``405``, as the transport allows. The session
manager runs in this router's lifespan, which FastAPI enters inside ``create_app``'s,
once the collections and models are loaded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from mcp import types
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.datastructures import Headers, State
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from service.errors import Forbidden, NotReady, ServiceError
from service.mcp_server import build_server, http_caller

PATH = "/mcp"
_LOOPBACK = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?")


def _check(state: State, scope: Scope) -> None:
    """Raise the error a request to /mcp gets before the MCP layer sees it, if any."""
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    allowed = state.settings.cors_origins
    if origin and origin not in allowed and not _LOOPBACK.fullmatch(origin):
        raise Forbidden(f"pages from {origin} may not use {PATH}; see SYLLABUS_CORS_ORIGINS")
    client = scope.get("client")
    state.keyring.identify(
        headers.get("authorization"),
        client[0] if client else "unknown",
        require_key=state.settings.require_ask_key,
    )


class _Endpoint:
    """The ASGI app at /mcp (an object, so that Starlette hands it the raw request)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route  # the request metrics name it, as FastAPI's routes are named
        state: State = scope["app"].state
        manager: StreamableHTTPSessionManager | None = getattr(state, "mcp_sessions", None)
        try:
            if manager is None:
                raise NotReady("the service is still starting (mcp not loaded)")
            _check(state, scope)
        except ServiceError as exc:
            await _refusal(exc)(scope, receive, send)
            return
        await manager.handle_request(scope, receive, send)


def _refusal(exc: ServiceError) -> JSONResponse:
    """The API's status and headers with a JSON-RPC error body, which MCP clients show."""
    code = types.INTERNAL_ERROR if exc.status >= 500 else types.INVALID_REQUEST
    error = {"code": code, "message": exc.message, "data": {"code": exc.code}}
    body = {"jsonrpc": "2.0", "id": None, "error": error}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


@asynccontextmanager
async def _sessions(app: FastAPI) -> AsyncIterator[None]:
    # A manager runs once: each start of the app gets its own.
    server = build_server(app.state, http_caller(app.state))
    manager = StreamableHTTPSessionManager(server, stateless=True, json_response=True)
    async with manager.run():
        app.state.mcp_sessions = manager
        try:
            yield
        finally:
            app.state.mcp_sessions = None


router = APIRouter(lifespan=_sessions)
route = Route(PATH, _Endpoint(), methods=["POST"])
router.routes.append(route)
