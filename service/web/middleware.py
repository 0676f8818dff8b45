"""ASGI middleware: request metrics, body size limit, JSON content type on writes, CORS."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_body
from service.metrics import Metrics

_JSON_WRITES = ("POST", "PUT", "PATCH")


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GuardAndMeasure:
    """Rejects oversized or non-JSON writes before routing, and times every request.

    ``uploads`` maps the paths that take ``multipart/form-data`` (file uploads) to
    their own body limit; every other write must be JSON within ``max_body_bytes``.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        max_body_bytes: int,
        uploads: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.uploads = dict(uploads or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            problem = self._problem(scope)
            if problem is not None:
                await _reject(send_and_record, *problem)
            else:
                limit = self._limit(scope)
                await self.app(scope, self._limited(receive, limit), send_and_record)
        finally:
            route: Any = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            self.metrics.request(path, scope["method"], int(status["code"]), elapsed)

    def _is_upload(self, scope: Scope) -> bool:
        return scope["method"] == "POST" and scope["path"] in self.uploads

    def _limit(self, scope: Scope) -> int:
        return self.uploads[scope["path"]] if self._is_upload(scope) else self.max_body_bytes

    def _problem(self, scope: Scope) -> tuple[int, str, str] | None:
        if scope["method"] not in _JSON_WRITES:
            return None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "")
        limit = self._limit(scope)
        if length.isdigit() and int(length) > limit:
            return (
                413,
                "payload_too_large",
                (f"request body of {length} bytes exceeds the limit of {limit}"),
            )
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        expected = "multipart/form-data" if self._is_upload(scope) else "application/json"
        bodyless = length == "0" or (not length and "transfer-encoding" not in headers)
        if bodyless and not kind:
            # A write without a body (curl -X POST …/v1/reindex sends no Content-Length at
            # all); the route validates it.
            return None
        if kind != expected:
            return (
                415,
                "unsupported_media_type",
                (f"expected Content-Type: {expected}, got {kind or 'none'!r}"),
            )
        return None

    def _limited(self, receive: Receive, limit: int) -> Receive:
        seen = {"bytes": 0}

        async def limited() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > limit:
                    raise _BodyTooLarge(limit)
            return message

        return limited


class _BodyTooLarge(HTTPException):
    """Raised while the body is read, for bodies sent without a Content-Length."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


class CrossOrigin(CORSMiddleware):
    """Cross-origin calls from the configured origins only (the embedded chat widget).

    Starlette does the CORS work; a refused preflight answers with the service's
    JSON error body instead of plain text.
    """

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Accept"],
            # The widget reads Retry-After to tell the learner how long to wait.
            expose_headers=["Retry-After"],
            # A public course page may embed a Syllabus that runs on a private network;
            # only the listed origins get through either way.
            allow_private_network=True,
            max_age=600,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        message = f"cross-origin request from {request_headers['origin']} refused"
        body = error_body("cross_origin_refused", f"{message} ({refused} not allowed)")
        kept = {
            k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
        }
        return JSONResponse(body, status_code=403, headers=kept)
