"""Step 1, retrieve: the passages a question is answered from.

A follow-up is searched together with the learner's turn before it, so that it
keeps its topic: one that points back ("and what does its forget gate do?", "what
about GRUs?", "does sglang do the same?") or names no subject of its own ("which
parameter do i tune at query time?"). A question that names a subject of its own
and points nowhere ("What does the forget gate in an LSTM do?", asked after a
question about GRUs) starts a new topic and is searched alone; searched with the
turn before, it drifted to that turn's passages. A subject of its own is a term
the collection holds in few of its chunks (8% or fewer: "forget", "lstm", "qlora"),
or one written as a name ("GPT-2", "LoRA"); everyday words of the subject
("parameter", "query", "model") are not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from indexes import EmptyScope, Hit, IndexReader, Scope
from service.answering.injection import in_place
from service.answering.terms import terms, written_as_name
from service.answering.vectors import SentenceVectors
from service.errors import ScopeEmpty
from service.generation.base import Message
from service.schemas import AnswerStyle, AskRequest, Citation

_SNIPPET_CHARS = 280
# Words that stand for something said before: the earlier turn's subject, or its answer.
_PRONOUNS = r"it|it's|itself|they|them|theirs|this|these|those|former|latter|the\s+same|the\s+other"
# Words that point back to the conversation: a conjunction that opens the question (after
# an "ok" or not; "ok" alone opens new questions too), a pronoun, "the same", "what about",
# "then". "that" points back only where it cannot open a relative clause ("does that
# help?", "why that?"), not in "the loss that GPT uses"; "instead" only without "of";
# "its" and "their" only before any subject of the question's own ("how does BPE build
# its vocab" is about BPE).
_POINTS_BACK = re.compile(
    rf"""^\W*(?:(?:ok(?:ay)?|thanks|hmm|right)\W+)?
          (?:and|so|but|or|also|what\s+about|how\s+about)\b
    | \b(?:{_PRONOUNS}|mine|ours|then|else)\b
    | \binstead\b(?!\s+of\b)
    | \b(?:is|are|was|does|do|did|would|will|can|could|why|about|of|like|with|than
          |from|for)\s+that\b(?!\s+(?:is|are|was|were|has|have|can|does|do|makes?)\b)
    | \bthat\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
_POSSESSIVE = re.compile(r"\b(?:its|their)\b", re.IGNORECASE)
# Words that stand for the earlier turn's subject: a follow-up that says none of them and
# names a subject of its own ("what does the alpha do then", "what about GRUs?") asks
# about that subject, in the earlier turn's passages.
_STANDS_FOR = re.compile(rf"\b(?:{_PRONOUNS}|its|their|that)\b", re.IGNORECASE)
# A term in at most this share of the collection's chunks names a subject of its own;
# chosen on the learner dev set (eval.bench.follow_ups; BENCHMARKS.md, "Follow-ups").
SUBJECT_SHARE = 0.08


class Turn(Protocol):
    """A turn of the conversation: a :class:`Message`, or a request's ``ChatTurn``."""

    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


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
    query: str = ""  # what was searched: the question, or a follow-up after its topic
    topic: str = ""  # what the answer units are chosen for: the query, or the question

    @property
    def best_score(self) -> float | None:
        """Dense similarity of the closest passage (``None`` when nothing was found)."""
        return max((h.dense_score or 0.0 for h in self.hits), default=None)

    @property
    def passages(self) -> list[str]:
        return [h.chunk.text for h in self.hits]


def follows_up(
    question: str, vocabulary: Mapping[str, int], chunks: int, share: float = SUBJECT_SHARE
) -> bool:
    """Whether ``question`` leans on the turn before it: it points back, or names no
    subject of its own (a term in at most ``share`` of the collection's ``chunks``
    chunks, whose terms ``vocabulary`` counts: stemmed term -> chunks that hold it)."""
    if _POINTS_BACK.search(question):
        return True
    possessive = _POSSESSIVE.search(question)
    before = question[: possessive.start()] if possessive else question
    return not _own_subject(before, vocabulary, chunks, share)


def _own_subject(
    text: str, vocabulary: Mapping[str, int], chunks: int, share: float = SUBJECT_SHARE
) -> bool:
    """Whether ``text`` names a term in at most ``share`` of the ``chunks`` chunks (at least
    one), or a term the collection holds written as a name."""
    rare = max(1.0, share * chunks)
    for stem, word in terms(text).items():
        held = vocabulary.get(stem, 0)
        if held and (held <= rare or written_as_name(word, text)):
            return True
    return False


def retrieval_query(text: str, history: Sequence[Turn], reader: IndexReader) -> str:
    """What ``text`` is searched as after ``history``: alone, or after the learner's
    last turn when it follows up on it."""
    previous = [m.content for m in history if m.role == "user"]
    if not previous or not follows_up(text, reader.vocabulary, reader.manifest.counts.chunks):
        return text
    return f"{previous[-1]}\n{text}"


def answer_topic(text: str, query: str, vocabulary: Mapping[str, int], chunks: int) -> str:
    """What the answer to ``text``, searched as ``query``, is composed for: the follow-up
    with the turn before it ("does it make generation faster too?"), unless it names a
    subject of its own and says nothing that stands for the earlier one ("what does the
    alpha do then", asked after QLoRA: the notes' words on alpha, not on QLoRA)."""
    if query == text or _STANDS_FOR.search(text):
        return query
    return text if _own_subject(text, vocabulary, chunks) else query


def retrieve(reader: IndexReader, question: Question, vectors: SentenceVectors) -> Retrieval:
    """The ``top_k`` passages for ``question``; its vector is kept in ``vectors`` for reuse."""
    query = retrieval_query(question.text, question.history, reader)
    vector = vectors.embed([query])[0]
    hits = scoped_search(reader, query, question.top_k, question.scope, vector)
    chunks = reader.manifest.counts.chunks
    topic = answer_topic(question.text, query, reader.vocabulary, chunks)
    return Retrieval(hits, reader.vocabulary, query, topic)


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
