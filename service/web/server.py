"""``syllabus serve``: uvicorn, guarded against clients that hold connections open.

uvicorn closes a connection idle between requests (keep-alive timeout), but waits for
ever for the headers of a request that never completes (slowloris), and accepts until
the process runs out of descriptors, when ``/healthz`` fails for everyone and asyncio
logs a traceback per refused accept. Here:

- a connection must deliver a request's headers within ``header_timeout`` seconds of
  opening (or of its previous response), else it is closed;
- at most ``max_connections`` are open at once (never more than the descriptor limit
  allows, with headroom for the index files and the model); when full, the connection
  that has waited longest without sending a request is closed to make room;
- the descriptor limit is raised to the hard limit at start;
- asyncio's "accept out of system resource" error is logged once every ten seconds.

Behind a public deployment a reverse proxy (nginx, Caddy) should still front it (README).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTOR_HEADROOM = 128  # index files, the model, logs, sqlite: never given to clients
_QUIET_SECONDS = 10.0


def raise_descriptor_limit() -> int:
    """Raise the soft limit on open files to the hard one; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(wanted: int, descriptors: int) -> int:
    """``wanted`` connections, or as many as the descriptor limit leaves room for."""
    return max(1, min(wanted, descriptors - DESCRIPTOR_HEADROOM))


class _OncePerInterval(logging.Filter):
    """Lets a repeated error through once every few seconds."""

    def __init__(self, prefix: str, seconds: float = _QUIET_SECONDS) -> None:
        super().__init__()
        self._prefix = prefix
        self._seconds = seconds
        self._last = -float("inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith(self._prefix):
            return True
        now = time.monotonic()
        if now - self._last < self._seconds:
            return False
        self._last = now
        return True


class GuardedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for request headers and a cap."""

    header_timeout = 10.0
    max_connections = 1000
    # Connections waiting for a request's headers, oldest first (one event loop: no lock).
    _waiting: ClassVar[dict[GuardedH11, None]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: object | None = None  # the cycle the deadline was set after

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            # Full: make room by closing the connection that has waited longest without
            # sending a request (slow or idle), so clients that send one get in; when
            # every connection is busy with a request, this one is refused.
            oldest = next(iter(GuardedH11._waiting), None)
            if oldest is None:
                transport.close()
                return
            oldest.transport.close()
            oldest._disarm()
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._waiting_for = self.cycle
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)
        GuardedH11._waiting[self] = None

    def _disarm(self) -> None:
        GuardedH11._waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.cycle is self._waiting_for and not self.transport.is_closing():
            self.transport.close()  # no request's headers arrived in time

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not self._waiting_for:  # a request's headers arrived
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection has the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def serve(app: Any, settings: Settings) -> None:
    """Run ``app`` with uvicorn, guarded (see the module's docstring)."""
    descriptors = raise_descriptor_limit()
    GuardedH11.header_timeout = settings.header_timeout
    GuardedH11.max_connections = connection_cap(settings.max_connections, descriptors)
    logging.getLogger("asyncio").addFilter(_OncePerInterval("socket.accept() out of system"))
    log.info(
        "at most %d connections (descriptor limit %d); request headers within %g s",
        GuardedH11.max_connections,
        descriptors,
        settings.header_timeout,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        http=GuardedH11,
        timeout_keep_alive=5,
    )
