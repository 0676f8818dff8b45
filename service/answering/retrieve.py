"""Step 1, retrieve: the passages a question is answered from.

A follow-up ("and what does its forget gate do?") is searched together with
the previous user turn, so that it keeps its topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from indexes import EmptyScope, Hit, IndexReader, Scope
from service.answering.injection import in_place
from service.answering.vectors import SentenceVectors
from service.errors import ScopeEmpty
from service.generation.base import Message
from service.schemas import AnswerStyle, AskRequest, Citation

_SNIPPET_CHARS = 280


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    collection: str
    top_k: int = 5
    history: list[Message] = field(default_factory=list)
    style: AnswerStyle | None = None  # None: the collection's (AnswerPolicy.answer_style)
    scope: Scope | None = None

    @classmethod
    def asked(cls, body: AskRequest, collection: str, scope: Scope | None) -> Question:
        """The question an ask request (``POST /v1/ask``, the MCP tool) puts."""
        return cls(
            text=body.question,
            collection=collection,
            top_k=body.top_k,
            history=[Message(t.role, t.content) for t in body.history],
            style=body.style,
            scope=scope,
        )


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What retrieval found, and what the collection knows of, for the later steps."""

    hits: list[Hit]
    vocabulary: Mapping[str, int]  # stemmed term -> chunks of the collection that hold it

    @property
    def best_score(self) -> float | None:
        """Dense similarity of the closest passage (``None`` when nothing was found)."""
        return max((h.dense_score or 0.0 for h in self.hits), default=None)

    @property
    def passages(self) -> list[str]:
        return [h.chunk.text for h in self.hits]


def retrieval_query(question: Question) -> str:
    """The question, preceded by the last user turn so follow-ups keep their topic."""
    previous = [m.content for m in question.history if m.role == "user"]
    return f"{previous[-1]}\n{question.text}" if previous else question.text


def retrieve(reader: IndexReader, question: Question, vectors: SentenceVectors) -> Retrieval:
    """The ``top_k`` passages for ``question``; its vector is kept in ``vectors`` for reuse."""
    query = retrieval_query(question)
    vector = vectors.embed([query])[0]
    hits = scoped_search(reader, query, question.top_k, question.scope, vector)
    return Retrieval(hits, reader.vocabulary)


def scoped_search(
    reader: IndexReader,
    query: str,
    k: int,
    scope: Scope | None,
    vector: npt.NDArray[np.float32] | None = None,
) -> list[Hit]:
    """The search of /v1/search and of every answer: a scope that holds nothing is the
    asker's error (404 ``scope_empty``), never a silent search of the whole collection."""
    try:
        return reader.search(query, k, query_vector=vector, scope=scope)
    except EmptyScope as exc:
        raise ScopeEmpty(str(exc)) from exc


def citation(n: int, hit: Hit, question: str, url: str | None = None) -> Citation:
    """Passage ``n`` as the learner who asked ``question`` sees it cited: its text without
    the sentences out of place for the question (``injection.in_place``)."""
    chunk = hit.chunk
    text = in_place(chunk.text, question)
    snippet = text if len(text) <= _SNIPPET_CHARS else text[:_SNIPPET_CHARS] + "…"
    return Citation(
        n=n,
        chunk_id=chunk.id,
        source=chunk.source,
        title=chunk.title,
        page=chunk.page,
        heading_path=list(chunk.heading_path),
        snippet=snippet,
        score=round(hit.score, 6),
        start=chunk.start,
        end=chunk.end,
        url=url,
    )
