"""Server-sent events: framing, and the answer stream as events."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable

from service.answering import Answerer, Question
from service.errors import ServiceError, error_body

log = logging.getLogger(__name__)


def frame(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer_stream(
    answerer: Answerer, question: Question, on_done: Callable[[str], None]
) -> AsyncIterator[str]:
    """``citations``, ``token``... and ``done``; or ``error`` if answering fails midway.

    ``on_done`` receives the final answer's mode (for the metrics).
    """
    try:
        async for event in answerer.events(question):
            if event.kind == "done":
                on_done(str(event.data["mode"]))
            yield frame(event.kind, event.data)
    except ServiceError as exc:
        yield frame("error", error_body(exc.code, exc.message))
    except Exception:
        log.exception("answer stream failed")
        yield frame("error", error_body("internal", "answering failed"))
