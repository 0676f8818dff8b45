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
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from service.components import Components, components_of
from service.errors import Forbidden, NotReady, ServiceError
from service.mcp_server import build_server, http_caller

PATH = "/mcp"
_LOOPBACK = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?")
# Each running app's session manager (the router, and so this endpoint, is shared by
# every app built in the process); an app is here while its lifespan runs.
_sessions_of: dict[Starlette, StreamableHTTPSessionManager] = {}


def _check(components: Components, scope: Scope) -> None:
    """Raise the error a request to /mcp gets before the MCP layer sees it, if any."""
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    settings = components.settings
    if origin and origin not in settings.cors_origins and not _LOOPBACK.fullmatch(origin):
        raise Forbidden(f"pages from {origin} may not use {PATH}; see SYLLABUS_CORS_ORIGINS")
    client = scope.get("client")
    components.keyring.identify(
        headers.get("authorization"),
        client[0] if client else "unknown",
        require_key=settings.require_ask_key,
    )


class _Endpoint:
    """The ASGI app at /mcp (an object, so that Starlette hands it the raw request)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route  # the request metrics name it, as FastAPI's routes are named
        app: Starlette = scope["app"]
        manager = _sessions_of.get(app)
        try:
            if manager is None:
                raise NotReady("the service is still starting (mcp not loaded)")
            _check(components_of(app), scope)
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
    components = components_of(app)  # built: the app's own lifespan runs first
    server = build_server(components, http_caller(components))
    manager = StreamableHTTPSessionManager(server, stateless=True, json_response=True)
    async with manager.run():
        _sessions_of[app] = manager
        try:
            yield
        finally:
            del _sessions_of[app]


router = APIRouter(lifespan=_sessions)
route = Route(PATH, _Endpoint(), methods=["POST"])
router.routes.append(route)
