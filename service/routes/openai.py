"""OpenAI-compatible chat completions and models; ``model`` names the collection.

The last user message is the question and earlier messages are the
history.  Citations ride as ``[n]`` markers in the text and in an extra
``citations`` field; ``syllabus`` carries the mode and grounding.  A
streamed completion sends the verified answer (after grounding, so a
client never shows text that was then replaced) in small deltas.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from indexes import Scope
from service.answering import Question
from service.deps import AnswererDep, AskerDep, LibraryDep, LinksDep, MetricsDep, request_scope
from service.errors import ServiceError, ValidationFailed, error_body
from service.generation.base import Message
from service.routes.disconnect import unless_disconnected
from service.schemas import (
    MAX_HISTORY_TURNS,
    MAX_QUESTION_CHARS,
    AnswerStyle,
    AskResponse,
    SearchScope,
    error_responses,
)

router = APIRouter(tags=["openai"])
_DELTA = re.compile(r"\S+\s*")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(p.text for p in self.content if p.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    # OpenAI clients send many optional fields (temperature, top_p, n...); they are accepted.
    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=64)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_HISTORY_TURNS * 2 + 2)
    stream: StrictBool = False
    # Syllabus's own extra fields, as OpenAI clients pass them (extra_body={"style": ...}).
    style: AnswerStyle | None = None
    scope: SearchScope | None = None


def _unpaired_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _question(body: ChatCompletionRequest, scope: Scope | None) -> Question:
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise ValidationFailed("the last message must be a non-empty user message (the question)")
    if any(_unpaired_surrogate(t.text()) for t in turns):
        raise ValidationFailed("messages: text with unpaired surrogates is not valid Unicode")
    text = turns[-1].text().strip()
    if len(text) > MAX_QUESTION_CHARS:
        raise ValidationFailed(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    history = [Message(t.role, t.text()) for t in turns[:-1]]  # type: ignore[arg-type]
    return Question(
        text=text, collection=body.model, history=history, style=body.style, scope=scope
    )


def _extras(answer: AskResponse) -> dict[str, object]:
    return {
        "citations": [c.model_dump() for c in answer.citations],
        "syllabus": {
            "answer_id": answer.answer_id,
            "mode": answer.mode,
            "grounding": answer.grounding.model_dump(),
            "quotes": [q.model_dump() for q in answer.quotes],
        },
    }


# An HTML tag or comment as text ("<script>", "</p>", "<!-- -->"): HTML sources decode
# "&lt;script&gt;" into it, and Markdown-rendering chat clients would render it.
_HTML_TAG = re.compile(r"<(?=/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|!--)")


def markdown_safe(text: str) -> str:
    """``text`` with its HTML tags escaped for Markdown ("\\<script>" shows as written);
    formulas such as ``y_{<t}`` and comparisons such as ``a < b`` are left alone."""
    return _HTML_TAG.sub(r"\\<", text)


def _content(answer: AskResponse) -> str:
    """The message a chat client shows: the answer, and the notes' words as Markdown
    quotes beneath it when there are any; raw HTML never reaches a Markdown renderer."""
    blocks = [markdown_safe(answer.answer)]
    for quote in answer.quotes:
        lines = markdown_safe(quote.text).splitlines()
        blocks.append("\n".join(f"> {line}" for line in lines) + f" [{quote.citation}]")
    return "\n\n".join(blocks)


def _completion(answer: AskResponse, model: str) -> dict[str, object]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _content(answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **_extras(answer),
    }


def _chunk(cid: str, model: str, delta: dict[str, str], finish: str | None = None) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def _stream(answerer: AnswererDep, question: Question, model: str) -> AsyncIterator[str]:
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    try:
        answer = await answerer.answer(question)
    except ServiceError as exc:
        yield f"data: {json.dumps(error_body(exc.code, exc.message))}\n\n"
        return
    yield _chunk(cid, model, {"role": "assistant", "content": ""})
    for piece in _DELTA.findall(_content(answer)):
        yield _chunk(cid, model, {"content": piece})
    final = json.loads(_chunk(cid, model, {}, "stop")[len("data: ") :])
    yield f"data: {json.dumps({**final, **_extras(answer)}, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


@router.post(
    "/v1/chat/completions",
    responses=error_responses(400, 401, 404, 413, 415, 422, 429, 502, 503, 504),
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    answerer: AnswererDep,
    library: LibraryDep,
    links: LinksDep,
    metrics: MetricsDep,
    _: AskerDep,
) -> object:
    await to_thread.run_sync(library.reader, body.model)  # 404 before streaming starts
    question = _question(body, await request_scope(library, links, body.model, body.scope))
    if body.stream:
        return StreamingResponse(
            _stream(answerer, question, body.model), media_type="text/event-stream"
        )
    answer = await unless_disconnected(request, answerer.answer(question))
    metrics.answers.labels(mode=answer.mode).inc()
    return _completion(answer, body.model)


@router.get("/v1/models")
async def models(library: LibraryDep) -> dict[str, object]:
    found = await to_thread.run_sync(library.collections)
    return {
        "object": "list",
        "data": [
            {"id": c.name, "object": "model", "created": 0, "owned_by": "syllabus"} for c in found
        ],
    }
