"""Answering a question: retrieve, decide, generate or extract, verify.

:meth:`Answerer.events` yields the answer as it forms (``citations`` once
retrieval is done, ``token`` pieces, then ``done`` with the verified answer);
:meth:`Answerer.answer` runs the same path and returns the final answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from anyio import to_thread

from indexes import Embedder, Hit
from service.extractive import best_sentences, compose
from service.generation.base import GenerationParams, Generator, Message
from service.grounding import GroundingChecker, Verdict
from service.library import Library
from service.prompt import build_messages
from service.schemas import AskResponse, Citation, Grounding, Mode, SentenceGrounding, Timings
from service.sentence_vectors import SentenceVectors

NOT_COVERED = "The course materials do not cover this question."
EXTRACTIVE_MODEL = "syllabus-extractive"
_SNIPPET_CHARS = 280
EMBEDDING_SLOTS = 2
T = TypeVar("T")

Strategy = Literal["auto", "generative", "extractive"]


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    strategy: Strategy = "extractive"
    abstain_threshold: float = 0.27
    min_supported_ratio: float = 0.67
    max_answer_tokens: int = 192


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    collection: str
    top_k: int = 5
    history: list[Message] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Event:
    kind: Literal["citations", "token", "done"]
    data: dict[str, object]


def retrieval_query(question: Question) -> str:
    """The question, preceded by the last user turn so follow-ups keep their topic."""
    previous = [m.content for m in question.history if m.role == "user"]
    return f"{previous[-1]}\n{question.text}" if previous else question.text


def citation(n: int, hit: Hit) -> Citation:
    chunk = hit.chunk
    snippet = chunk.text if len(chunk.text) <= _SNIPPET_CHARS else chunk.text[:_SNIPPET_CHARS] + "…"
    return Citation(
        n=n,
        chunk_id=chunk.id,
        source=chunk.source,
        title=chunk.title,
        page=chunk.page,
        heading_path=list(chunk.heading_path),
        snippet=snippet,
        score=round(hit.score, 6),
    )


@dataclass
class _Run:
    """Timing and results of one question as it is answered."""

    question: Question
    sentences: SentenceVectors  # every text this answer embeds, embedded once
    started: float = field(default_factory=time.perf_counter)
    retrieval_ms: float = 0.0
    first_token_ms: float | None = None
    hits: list[Hit] = field(default_factory=list)

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)


class Answerer:
    def __init__(
        self,
        library: Library,
        embedder: Embedder,
        generator: Generator,
        checker: GroundingChecker,
        policy: AnswerPolicy,
    ) -> None:
        self._library = library
        self._embedder = embedder
        self._generator = generator
        self._checker = checker
        self.policy = policy
        # Embedding passage sentences briefly takes tens of MB per call, which the
        # allocator keeps per thread: 32 asks at once grew the process by 2 GB.  A
        # call already uses every core, so a few at a time lose no throughput.
        self._embedding_slots = threading.BoundedSemaphore(EMBEDDING_SLOTS)

    def _bounded(self, work: Callable[[], T]) -> T:
        """Run sentence embedding (in a worker thread) within the embedding slots."""
        with self._embedding_slots:
            return work()

    async def answer(self, question: Question) -> AskResponse:
        async for event in self.events(question):
            if event.kind == "done":
                return AskResponse.model_validate(event.data)
        raise RuntimeError("the answer stream ended without a final answer")

    async def events(self, question: Question) -> AsyncIterator[Event]:
        run = _Run(question, SentenceVectors(self._embedder))
        reader = await to_thread.run_sync(self._library.reader, question.collection)
        query = retrieval_query(question)

        def retrieve() -> list[Hit]:
            vector = run.sentences.embed([query])[0]  # ranking sentences reuses it
            return reader.search(query, question.top_k, query_vector=vector)

        run.hits = await to_thread.run_sync(retrieve)
        run.retrieval_ms = run.elapsed_ms()
        best = max((h.dense_score or 0.0 for h in run.hits), default=None)
        if best is None or best < self.policy.abstain_threshold:
            yield Event("citations", {"citations": []})
            reason = (
                "no passage found"
                if best is None
                else f"best passage similarity {best:.2f} is below the threshold "
                f"{self.policy.abstain_threshold:.2f}"
            )
            yield self._done(run, NOT_COVERED, "abstained", Verdict("", []), reason, best, [])
            return
        citations = [citation(n, hit) for n, hit in enumerate(run.hits, start=1)]
        yield Event("citations", {"citations": [c.model_dump() for c in citations]})
        passages = [h.chunk.text for h in run.hits]
        if self.policy.strategy == "extractive":
            async for event in self._extractive(
                run, passages, citations, best, "strategy is extractive"
            ):
                yield event
            return
        pieces: list[str] = []
        messages = build_messages(
            question.text, [(h.chunk.source, h.chunk.text) for h in run.hits], question.history
        )
        params = GenerationParams(max_tokens=self.policy.max_answer_tokens, temperature=0.0)
        async for piece in self._generator.stream(messages, params):
            if run.first_token_ms is None:
                run.first_token_ms = run.elapsed_ms()
            pieces.append(piece)
            yield Event("token", {"text": piece})
        generated = "".join(pieces).strip()
        verdict = await to_thread.run_sync(
            self._bounded, lambda: self._checker.check(generated, passages, run.sentences)
        )
        ratio = verdict.supported_ratio
        accepted = bool(verdict.sentences) and ratio >= self.policy.min_supported_ratio
        if accepted or self.policy.strategy == "generative":
            reason = (
                f"{sum(s.supported for s in verdict.sentences)} of {len(verdict.sentences)} "
                "generated sentences are supported by the passages"
            )
            used = [c for c in citations if any(c.n in s.citations for s in verdict.sentences)]
            yield self._done(run, verdict.text, "generative", verdict, reason, best, used)
            return
        reason = (
            f"the generated answer was not supported ({ratio:.0%} of its sentences); "
            "answering with the passages' own sentences"
        )
        async for event in self._extractive(run, passages, citations, best, reason, stream=False):
            yield event

    async def _extractive(
        self,
        run: _Run,
        passages: list[str],
        citations: list[Citation],
        best: float,
        reason: str,
        *,
        stream: bool = True,
    ) -> AsyncIterator[Event]:
        extracts = await to_thread.run_sync(
            self._bounded,
            lambda: best_sentences(run.sentences, run.question.text, passages),
        )
        text = compose(extracts)
        if stream:
            run.first_token_ms = run.elapsed_ms()
            yield Event("token", {"text": text})
        verdict = await to_thread.run_sync(
            self._bounded, lambda: self._checker.check(text, passages, run.sentences)
        )
        used = [c for c in citations if any(e.passage == c.n for e in extracts)]
        yield self._done(run, text, "extractive", verdict, reason, best, used)

    def _done(
        self,
        run: _Run,
        text: str,
        mode: Mode,
        verdict: Verdict,
        reason: str,
        best: float | None,
        citations: list[Citation],
    ) -> Event:
        response = AskResponse(
            answer=text,
            mode=mode,
            citations=citations,
            grounding=Grounding(
                sentences=[
                    SentenceGrounding(
                        text=s.text, citations=s.citations, support=s.support, supported=s.supported
                    )
                    for s in verdict.sentences
                ],
                supported_ratio=round(verdict.supported_ratio, 4),
                reason=reason,
                best_passage_score=None if best is None else round(best, 4),
                abstain_threshold=self.policy.abstain_threshold,
            ),
            timings=Timings(
                retrieval_ms=run.retrieval_ms,
                first_token_ms=run.first_token_ms,
                total_ms=run.elapsed_ms(),
            ),
            model=self._generator.model_name if mode == "generative" else EXTRACTIVE_MODEL,
            collection=run.question.collection,
        )
        return Event("done", response.model_dump())
