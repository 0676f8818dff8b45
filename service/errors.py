"""The service's error hierarchy; each class carries its HTTP status and code.

Every error is rendered as the one body :func:`error_body` builds,
``{"error": {"code": ..., "message": ...}}``: by one handler in ``service.app``, and
by what answers outside it (the middleware, the event streams, the MCP tools).  The
core raises these, only the boundaries translate them::

    ServiceError (500 internal)
    ├── BadRequest (400 bad_request)
    │   └── ValidationFailed (422 invalid_request)
    ├── Unauthorized (401 unauthorized, with WWW-Authenticate)
    ├── Forbidden (403 forbidden)
    ├── NotFound (404 not_found)
    │   └── ScopeEmpty (404 scope_empty)
    ├── PayloadTooLarge (413 payload_too_large)
    ├── UnsupportedMediaType (415 unsupported_media_type)
    ├── RateLimited (429 rate_limited, with Retry-After)
    ├── Overloaded (503 overloaded, with Retry-After)
    ├── NotReady (503 not_ready)
    ├── CollectionUnavailable (503 collection_unavailable)
    ├── InsufficientStorage (507 insufficient_storage)
    ├── FeedbackUnavailable (503 feedback_unavailable, in service.feedback)
    ├── GeneratorUnavailable (502 generator_unavailable)
    └── GeneratorTimeout (504 generator_timeout)
"""

from __future__ import annotations


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The JSON body of every error the service answers with (``schemas.ErrorBody``)."""
    return {"error": {"code": code, "message": message}}


class ServiceError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ServiceError):
    status = 400
    code = "bad_request"


class ValidationFailed(BadRequest):
    status = 422
    code = "invalid_request"


class Unauthorized(ServiceError):
    """No key, or a key that is not one of the configured ones."""

    status = 401
    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="syllabus"'})


class Forbidden(ServiceError):
    """A valid key that does not open this endpoint (an ask key on an admin endpoint)."""

    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class ScopeEmpty(NotFound):
    """A search scope that holds no passage of the collection."""

    code = "scope_empty"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"


class RateLimited(ServiceError):
    """A key or client address has used up its questions for now."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class Overloaded(ServiceError):
    """The generation queue is full; the client should retry after a pause."""

    status = 503
    code = "overloaded"

    def __init__(self, message: str, *, retry_after: int = 2) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class NotReady(ServiceError):
    status = 503
    code = "not_ready"


class CollectionUnavailable(ServiceError):
    """The collection exists but its index cannot be served (the message says why)."""

    status = 503
    code = "collection_unavailable"


class InsufficientStorage(ServiceError):
    """The server's disk is full: nothing of the request was stored."""

    status = 507
    code = "insufficient_storage"


class GeneratorUnavailable(ServiceError):
    """The generation backend is down, refused, or answered something unusable."""

    status = 502
    code = "generator_unavailable"


class GeneratorTimeout(ServiceError):
    status = 504
    code = "generator_timeout"
