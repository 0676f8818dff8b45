"""The answering core: retrieve, decide, compose, generate, verify, as one event stream.

:meth:`Answerer.events` yields the answer as it forms:

- ``citations``: the retrieved passages, numbered as the answer cites them;
- ``draft`` (when a model will write the answer): the best answer unit of the
  passages (of a comparison, one on each side), quoted and cited, at once, so the
  learner reads something useful while the model writes;
- ``token``: pieces of the answer (the generated one; with the extractive
  strategy, the quoted unit as one piece);
- ``done``: the final, verified answer (:class:`AskResponse`); a generated ``explain``
  answer keeps beneath it, as its ``quotes``, each of the draft's units that says more
  than it, then the best further unit of the passages when one reads close to the
  question and says more than both (``compose.further_unit``).

:meth:`Answerer.answer` runs the same path and returns the final answer.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

from anyio import to_thread

from indexes import Embedder, IndexReader
from service.answering.compose import (
    Unit,
    adds_to,
    answer_units,
    compose,
    further_unit,
    in_reading_order,
)
from service.answering.decide import decide
from service.answering.guide import asks_for_solution, guided_text, hands_over, worked_result
from service.answering.injection import StreamGate, in_place, out_of_place
from service.answering.prompt import (
    NOT_COVERED,
    build_messages,
    is_refusal,
    may_become_refusal,
    without_trailing_refusal,
    without_unfinished_end,
)
from service.answering.retrieve import Question, Retrieval, citation, retrieve
from service.answering.vectors import SentenceVectors
from service.answering.verify import (
    GroundingChecker,
    Verdict,
    misexpands_only,
    states_figures,
)
from service.course import CourseConfig, Strategy, TeachingMode
from service.feedback import AnswerJournal, AnswerRecord, Cited
from service.generation.base import GenerationParams, Generator, Message
from service.library import Library
from service.links import SourceLinks, SourceTexts
from service.schemas import (
    AnswerStyle,
    AskResponse,
    Citation,
    Grounding,
    Mode,
    Quote,
    SentenceGrounding,
    Timings,
)

EXTRACTIVE_MODEL = "syllabus-extractive"
EMBEDDING_SLOTS = 2
_SHORT_ANSWER_TOKENS = 32
T = TypeVar("T")
# The course settings that are answering policy, by their name in AnswerPolicy.
_COURSE_KEYS = (
    "abstain_threshold",
    "answer_strategy",
    "answer_style",
    "teaching_mode",
    "question_log",
    "prompt_note",
    "model",
)


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """How questions are answered; the defaults are the measured ones (BENCHMARKS.md)."""

    # With a Qwen2.5 model, `auto` covers more key points than the quoted unit alone on the
    # learner dev set, and the quoted unit is shown at once as a draft.
    answer_strategy: Strategy = "auto"
    # Calibrated on the SQuAD 2.0 dev split with int8 vectors: the highest threshold that
    # still answers at least 97.5% of answerable questions (the trade-off).
    abstain_threshold: float = 0.27
    answer_style: AnswerStyle = "explain"  # of a question that names none
    teaching_mode: TeachingMode = "answer"
    question_log: bool = False
    prompt_note: str | None = None  # the course staff's addition to the system message
    model: str | None = None  # None: the service's model
    # Two of every three generated sentences: with 0.67, three-sentence answers with two
    # supported ones fell back to the quoted unit (learner dev set: every key point 0.657 ->
    # 0.672, supported sentences 0.954 -> 0.935; BENCHMARKS.md, "Answers").
    min_supported_ratio: float = 2 / 3
    max_answer_tokens: int = 192
    prompt_passages: int = 2  # passages the model reads (the draft's among them)
    max_passage_chars: int = 700
    # Styles in which the model's own NOT COVERED abstains. With the 1.5B it refused 5 of 67
    # covered learner questions and none of the uncovered ones in `explain` (the quoted unit
    # stands instead), but 6 unanswerable SQuAD dev questions to 1 answerable in `short`.
    trust_refusal: tuple[AnswerStyle, ...] = ("short",)
    # An `auto` answer none of whose sentences is supported abstains when the best passage's
    # similarity is below this, per style (else, or when an `explain` sentence states the
    # notes' figures, the quoted unit stands). On the learner dev
    # set such answers came for 6 uncovered questions (best passage 0.34-0.46) and 5 covered
    # ones (0.42-0.70); on SQuAD dev (`short`) for 7 unanswerable and 6 answerable ones, where
    # it always abstains (BENCHMARKS.md, "Answers").
    abstain_unsupported_below: Mapping[AnswerStyle, float] = field(
        default_factory=lambda: {"explain": 0.5, "short": math.inf}
    )
    # A supported answer abstains when the model gave its first token a probability below
    # this, per style. In `short`, on 300 SQuAD 2.0 dev questions, the 198 generated spans
    # below 0.6 held 54 unanswerable questions and 18 right answers (F1 0.412 -> 0.527
    # scored offline, 0.507 measured; 0.6-0.65 a plateau; BENCHMARKS.md, "The model's
    # doubt"). Not in `explain`, whose first word ("The", "LoRA") says nothing of the
    # answer.
    min_first_token_probability: Mapping[AnswerStyle, float] = field(
        default_factory=lambda: {"short": 0.6}
    )

    def for_course(self, course: CourseConfig) -> AnswerPolicy:
        """This policy with what a collection's ``course.json`` sets instead."""
        own = {key: getattr(course, key) for key in _COURSE_KEYS}
        return replace(self, **{k: v for k, v in own.items() if v is not None})


@dataclass(frozen=True, slots=True)
class Event:
    kind: Literal["citations", "draft", "token", "done"]
    data: dict[str, object]


@dataclass
class _Run:
    """Timing and results of one question as it is answered."""

    question: Question
    vectors: SentenceVectors  # every text this answer embeds, embedded once
    reader: IndexReader  # the collection's, looked up once per answer
    policy: AnswerPolicy  # the service's, with the collection's own settings
    generator: Generator
    guided: bool = False  # teaching mode guide, and the question asks for a solution
    started: float = field(default_factory=time.perf_counter)
    retrieval_ms: float = 0.0
    first_token_ms: float | None = None
    generated_first_token_ms: float | None = None
    retrieval: Retrieval = field(default_factory=lambda: Retrieval([], {}))
    citations: list[Citation] = field(default_factory=list)
    rejected: str | None = None  # a generated answer that is not shown

    @property
    def style(self) -> AnswerStyle:
        return self.question.style or "explain"  # resolved when the run starts

    @property
    def topic(self) -> str:
        """What the units are chosen for (``retrieve.answer_topic``): a follow-up ("does
        it make generation faster too?") with the learner's turn before it."""
        return self.retrieval.topic or self.question.text

    @property
    def skip(self) -> Callable[[str], bool] | None:
        """The sentences never quoted: guided, those that give the worked result away."""
        return worked_result if self.guided else None

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)

    def content_shown(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = self.elapsed_ms()


class Answerer:
    def __init__(
        self,
        library: Library,
        embedder: Embedder,
        generator: Generator,
        checker: GroundingChecker,
        policy: AnswerPolicy,
        journal: AnswerJournal | None = None,
        links: SourceLinks | None = None,
        models: Callable[[str], Generator] | None = None,
    ) -> None:
        self._library = library
        self._journal = journal or AnswerJournal()
        self._links = links or SourceLinks({})
        self._sources = SourceTexts()
        self._embedder = embedder
        self._generator = generator
        self._models = models  # another model by name, for a course that names one
        self._checker = checker
        self.policy = policy
        # Embedding passage sentences briefly takes tens of MB per call, which the
        # allocator keeps per thread: 32 asks at once grew the process by 2 GB.  A
        # call already uses every core, so a few at a time lose no throughput.
        self._embedding_slots = threading.BoundedSemaphore(EMBEDDING_SLOTS)

    async def _bounded(self, work: Callable[[], T]) -> T:
        """Run embedding work in a worker thread, within the embedding slots."""

        def slotted() -> T:
            with self._embedding_slots:
                return work()

        return await to_thread.run_sync(slotted)

    def _common_word(self, word: str) -> bool:
        """An everyday word: one piece of the embedder's vocabulary."""
        return self._embedder.count_tokens([word])[0] <= 1

    async def answer(self, question: Question) -> AskResponse:
        async for event in self.events(question):
            if event.kind == "done":
                return AskResponse.model_validate(event.data)
        raise RuntimeError("the answer stream ended without a final answer")

    async def _start(self, question: Question) -> _Run:
        """The run of a question, under its collection's policy."""
        reader = await to_thread.run_sync(self._library.reader, question.collection)
        course = await to_thread.run_sync(self._library.course, question.collection)
        policy = self.policy.for_course(course)
        guided = policy.teaching_mode == "guide" and asks_for_solution(question.text)
        style = "explain" if guided else question.style or policy.answer_style
        generator = self._generator
        if policy.model is not None and self._models is not None:
            generator = await to_thread.run_sync(self._models, policy.model)
        return _Run(
            replace(question, style=style),
            SentenceVectors(self._embedder),
            reader,
            policy,
            generator,
            guided,
        )

    async def events(self, question: Question) -> AsyncIterator[Event]:
        run = await self._start(question)
        question = run.question
        run.retrieval = await to_thread.run_sync(
            lambda: retrieve(run.reader, question, run.vectors)
        )
        run.retrieval_ms = run.elapsed_ms()
        decision = await to_thread.run_sync(
            lambda: decide(
                question.text,
                run.retrieval,
                run.policy.abstain_threshold,
                self._common_word,
                task=run.guided,
            )
        )
        if decision.abstain:
            yield Event("citations", {"citations": []})
            yield self._abstained(run, decision.reason)
            return
        run.citations = [
            citation(n, hit, question.text, self._links.url(question.collection, hit.chunk))
            for n, hit in enumerate(run.retrieval.hits, start=1)
        ]
        yield Event("citations", {"citations": [c.model_dump() for c in run.citations]})
        units = await self._bounded(
            lambda: answer_units(
                run.vectors,
                question.text,
                run.retrieval.hits,
                style=run.style,
                skip=run.skip,
                topic=run.topic,
            )
        )
        if run.policy.answer_strategy == "extractive" or not units:
            async for event in self._extractive(run, units, "strategy is extractive"):
                yield event
            return
        run.content_shown()
        draft: dict[str, object] = {
            "text": self._composed(run, units),
            "citations": [u.passage for u in units],
        }
        yield Event("draft", draft)
        async for event in self._generated(run, units):
            yield event

    async def _generated(self, run: _Run, units: list[Unit]) -> AsyncIterator[Event]:
        pieces: list[str] = []
        holding = True  # the answer's start is held back while it may be the refusal
        gate = StreamGate(run.question.text)  # and what is out of place is never shown
        messages = self._messages(run, units)
        async for piece in run.generator.stream(messages, self._params(run)):
            if run.generated_first_token_ms is None:
                run.generated_first_token_ms = run.elapsed_ms()
            pieces.append(piece)
            if holding and may_become_refusal("".join(pieces)):
                continue
            holding = False
            if shown := gate.admit("".join(pieces)):
                yield Event("token", {"text": shown})
        whole = "".join(pieces)
        generated = whole.strip()
        if len(pieces) >= self._params(run).max_tokens:  # a piece is at least one token
            generated = without_unfinished_end(generated)
        refused = is_refusal(generated)
        if not refused and (rest := gate.finish(whole)):
            yield Event("token", {"text": rest})
        if refused:
            if run.style in run.policy.trust_refusal:
                run.rejected = generated
                yield self._abstained(run, "the model found no answer in the passages")
                return
            reason = "the model found no answer in the passages; answering with their own words"
            run.rejected = generated
            async for event in self._extractive(run, units, reason, stream=False):
                yield event
            return
        verdict = await self._verify(run, without_trailing_refusal(generated))
        if intrusion := self._out_of_place(run, verdict):
            run.rejected = verdict.text
            reason = f"a generated sentence was not shown: {intrusion}"
            async for event in self._extractive(run, units, reason, stream=False):
                yield event
            return
        ratio = verdict.supported_ratio
        if verdict.sentences and ratio == 0 and self._abstains_on_invention(run, verdict):
            run.rejected = verdict.text
            reason = "no sentence the model wrote from the passages is supported by them"
            yield self._abstained(run, reason)
            return
        if run.guided and hands_over(verdict.text):
            run.rejected = verdict.text
            reason = "the generated answer gave the worked result away (teaching mode guide)"
            async for event in self._extractive(run, units, reason, stream=False):
                yield event
            return
        accepted = bool(verdict.sentences) and ratio >= run.policy.min_supported_ratio
        if accepted or run.policy.answer_strategy == "generative":
            if doubt := await self._doubted(run, messages):
                run.rejected = verdict.text
                yield self._abstained(run, doubt)
                return
            reason = (
                f"{sum(s.supported for s in verdict.sentences)} of {len(verdict.sentences)} "
                "generated sentences are supported by the passages"
            )
            cited = {n for s in verdict.sentences for n in s.citations}
            quotes = await self._quotes(run, units, verdict.text)
            cited.update(q.citation for q in quotes)
            used = [c for c in run.citations if c.n in cited]
            yield self._done(run, verdict.text, "generative", verdict, reason, used, quotes)
            return
        reason = (
            f"the generated answer was not supported ({ratio:.0%} of its sentences); "
            "answering with the passages' own words"
        )
        run.rejected = verdict.text
        async for event in self._extractive(run, units, reason, stream=False):
            yield event

    @staticmethod
    async def _doubted(run: _Run, messages: list[Message]) -> str | None:
        """Why the answer abstains when the model was unsure how to begin it (the
        probability of its first token below the style's floor), else ``None``."""
        floor = run.policy.min_first_token_probability.get(run.style)
        if floor is None:
            return None
        sure = await run.generator.first_token_probability(messages)
        if sure is None or sure >= floor:
            return None
        return f"the model was unsure of its answer (first token {sure:.2f}, below {floor:g})"

    async def _quotes(self, run: _Run, units: list[Unit], answer: str) -> list[Quote]:
        """The notes' words beneath a generated ``explain`` answer: the draft's units it
        does not restate and the best further unit when one says more than both, in the
        order the passages have them."""
        if run.style != "explain":
            return []
        adding = [u for u in units if adds_to(u, answer)]
        shown = "\n\n".join([answer, *(u.text for u in adding)])
        further = await self._bounded(
            lambda: further_unit(
                run.vectors, run.topic, run.retrieval.hits, units, shown, skip=run.skip
            )
        )
        quoted = in_reading_order([u for u in (*adding, further) if u], run.retrieval.hits)
        return [Quote(text=u.text.strip(), citation=u.passage) for u in quoted]

    @staticmethod
    def _out_of_place(run: _Run, verdict: Verdict) -> str | None:
        """Why a generated answer must not be shown whatever the strategy (a link, a request
        for credentials, speech to the assistant the question did not ask for), or None."""
        found = (out_of_place(s.text, run.question.text) for s in verdict.sentences)
        return next((reason for reason in found if reason), None)

    def _abstains_on_invention(self, run: _Run, verdict: Verdict) -> bool:
        # `generative` serves what the model said, flagged; `auto` takes it as a verdict.
        below = run.policy.abstain_unsupported_below.get(run.style, -math.inf)
        best = run.retrieval.best_score
        if run.policy.answer_strategy != "auto" or best is None or best >= below:
            return False
        # An `explain` answer that states the notes' figures answers from them, in words
        # that read far from theirs: the quoted unit stands (learner dev set: "how big
        # should my chunks be", "the biggest number fp16 can store"). Not in `short`, where
        # SQuAD's unanswerable questions turn a detail round and the figure stays.
        passages = run.retrieval.passages
        if run.style == "explain" and states_figures(verdict.sentences, passages):
            return False
        # Nor does one that reads as the passages do but for an acronym of theirs expanded
        # wrongly (learner dev set: "how big should my chunks be", whose answer expanded
        # RAG with a word the notes never use).
        return not misexpands_only(verdict.sentences, passages, self._checker.threshold)

    def _messages(self, run: _Run, units: list[Unit]) -> list[Message]:
        """The prompt: the draft's passages, then the first passages by rank; the turns
        before only when the question was searched with them (it follows up on them): a
        new question asked after others is written as if asked alone."""
        hits = run.retrieval.hits
        follows = run.retrieval.query != run.question.text
        chosen = list(dict.fromkeys(u.passage for u in units))
        chosen += [n for n in range(1, len(hits) + 1) if n not in chosen]
        chosen = chosen[: max(run.policy.prompt_passages, len(units))]
        return build_messages(
            run.question.text,
            [(n, hits[n - 1].chunk.source, hits[n - 1].chunk.text) for n in sorted(chosen)],
            run.question.history if follows else [],
            style=run.style,
            max_passage_chars=run.policy.max_passage_chars,
            guided=run.guided,
            note=run.policy.prompt_note,
        )

    def _params(self, run: _Run) -> GenerationParams:
        limit = run.policy.max_answer_tokens
        if run.style == "short":
            limit = min(limit, _SHORT_ANSWER_TOKENS)
        return GenerationParams(max_tokens=limit, temperature=0.0)

    async def _verify(self, run: _Run, text: str) -> Verdict:
        passages = run.retrieval.passages
        vocabulary = run.retrieval.vocabulary
        return await self._bounded(
            lambda: self._checker.check(text, passages, run.vectors, vocabulary)
        )

    async def _extractive(
        self, run: _Run, units: list[Unit], reason: str, *, stream: bool = True
    ) -> AsyncIterator[Event]:
        if not units:
            yield self._abstained(run, "no passage has a sentence to quote")
            return
        text = self._composed(run, units)
        if stream:
            run.content_shown()
            yield Event("token", {"text": text})
        verdict = await self._verify(run, text)
        used = [c for c in run.citations if c.n in {u.passage for u in units}]
        yield self._done(run, text, "extractive", verdict, reason, used)

    @staticmethod
    def _composed(run: _Run, units: list[Unit]) -> str:
        """The units as an answer; guided, the first with the hint and where the notes
        explain it."""
        if not run.guided:
            return compose(units)
        unit = units[0]
        chunk = run.retrieval.hits[unit.passage - 1].chunk
        return guided_text(unit.text, unit.passage, " > ".join(chunk.heading_path) or chunk.title)

    def _placed(self, run: _Run, citations: list[Citation], verdict: Verdict) -> list[Citation]:
        """The citations with the span of the passage sentence the answer rests on: the
        closest to the first supported sentence that cites each."""
        evidence: dict[int, str] = {}
        for sentence in verdict.sentences:
            if sentence.supported and sentence.evidence and sentence.citations:
                evidence.setdefault(sentence.citations[0], sentence.evidence)
        if not any(c.n in evidence for c in citations):
            return citations
        documents = {d.doc_id: d for d in run.reader.documents()}
        placed = []
        for cite in citations:
            chunk = run.retrieval.hits[cite.n - 1].chunk
            if cite.n in evidence and (
                found := self._sources.span(documents.get(chunk.doc_id), chunk, evidence[cite.n])
            ):
                start, end = found
                cite = cite.model_copy(update={"sentence_start": start, "sentence_end": end})
            placed.append(cite)
        return placed

    def _abstained(self, run: _Run, reason: str) -> Event:
        return self._done(run, NOT_COVERED, "abstained", Verdict("", []), reason, [])

    def _done(
        self,
        run: _Run,
        text: str,
        mode: Mode,
        verdict: Verdict,
        reason: str,
        citations: list[Citation],
        quotes: Sequence[Quote] = (),
    ) -> Event:
        best = run.retrieval.best_score
        citations = self._placed(run, citations, verdict)
        record = AnswerRecord(
            question=run.question.text,
            answer=text,
            mode=mode,
            style=run.style,
            best_score=best,
            threshold=run.policy.abstain_threshold,
            cited=tuple(Cited(c.source, c.title, tuple(c.heading_path)) for c in citations),
            latency_ms=run.elapsed_ms(),
            rejected=run.rejected is not None,
        )
        answer_id = self._journal.record(
            run.reader.root, record, log_question=run.policy.question_log
        )
        response = AskResponse(
            answer_id=answer_id,
            answer=text,
            mode=mode,
            citations=citations,
            quotes=list(quotes),
            grounding=Grounding(
                sentences=[
                    SentenceGrounding(
                        text=s.text,
                        citations=s.citations,
                        support=s.support,
                        supported=s.supported,
                        unsupported_terms=list(s.unsupported_terms),
                        model_citations=s.model_citations,
                    )
                    for s in verdict.sentences
                ],
                supported_ratio=round(verdict.supported_ratio, 4),
                reason=reason,
                best_passage_score=None if best is None else round(best, 4),
                abstain_threshold=run.policy.abstain_threshold,
                # Shown to course staff and API clients: what is out of place stays out.
                rejected_answer=None
                if run.rejected is None
                else in_place(run.rejected, run.question.text),
            ),
            timings=Timings(
                retrieval_ms=run.retrieval_ms,
                first_token_ms=run.first_token_ms,
                generated_first_token_ms=run.generated_first_token_ms,
                total_ms=run.elapsed_ms(),
            ),
            model=run.generator.model_name if mode == "generative" else EXTRACTIVE_MODEL,
            collection=run.question.collection,
            guided=run.guided,
        )
        return Event("done", response.model_dump())
