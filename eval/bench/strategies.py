"""Answering strategies compared on SQuAD 2.0 through the service's own :class:`Answerer`.

Each sampled question goes through ``Answerer.answer`` in process, with the
real embedder, index, generator and grounding check, once per strategy.  The
``generative`` run keeps every generated answer with its sentence supports
(which do not depend on the support threshold), so ``auto`` can be re-scored
offline for other ``support_threshold`` / ``min_supported_ratio`` values:
``auto`` answers with the generated text when it passes the check, and with
the extractive answer otherwise.

The strategies run one after the other over the same questions in the same
order.  llama.cpp reuses the longest prompt prefix it evaluated last, and the
reused cache changes greedy output slightly, so the generated text depends on
the previous request; with the same order, ``generative`` and ``auto`` see
the same history and generate the same text (``eval.bench.squad_answers`` checks this).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from eval import squad
from eval.qa_metrics import abstention, contains_gold, exact_match, mean, token_f1
from service.answering import Answerer, Question, Strategy, declines
from service.errors import ServiceError

log = logging.getLogger(__name__)

STRATEGIES: tuple[Strategy, ...] = ("extractive", "generative", "auto")
ANSWERABLE_SHARE = 2 / 3
SUPPORT_GRID = (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
RATIO_GRID = (0.5, 0.67, 1.0)


def sample_questions(
    articles: Sequence[squad.Article], n: int, seed: int = 0
) -> list[squad.Question]:
    """``n`` questions, two thirds answerable, drawn with ``seed``, in file order."""
    questions = [q for a in articles for q in a.questions]
    answerable = [i for i, q in enumerate(questions) if q.answerable]
    impossible = [i for i, q in enumerate(questions) if q.is_impossible]
    n_answerable = round(n * ANSWERABLE_SHARE)
    rng = random.Random(seed)
    chosen = rng.sample(answerable, n_answerable) + rng.sample(impossible, n - n_answerable)
    return [questions[i] for i in sorted(chosen)]


@dataclass(frozen=True, slots=True)
class Record:
    """One question answered under one strategy."""

    id: str
    is_impossible: bool
    golds: tuple[str, ...]
    answer: str
    mode: str  # abstained, generative, extractive, or error
    supports: tuple[float, ...]
    best_score: float | None
    total_ms: float
    first_token_ms: float | None = None

    @property
    def declined(self) -> bool:
        """Whether the answer is the model's own refusal, an abstention in effect."""
        return declines(self.answer)

    @property
    def abstained(self) -> bool:
        return self.mode == "abstained" or self.declined


async def answer_all(
    answerer: Answerer, questions: Sequence[squad.Question], collection: str
) -> list[Record]:
    """Every question through ``answerer.answer``, one at a time, as the service would."""
    records = []
    for number, question in enumerate(questions, start=1):
        records.append(await _answer_one(answerer, question, collection))
        if number % 10 == 0:
            log.info("%s: %d/%d answered", answerer.policy.answer_strategy, number, len(questions))
    return records


async def _answer_one(answerer: Answerer, question: squad.Question, collection: str) -> Record:
    started = time.perf_counter()
    try:
        response = await answerer.answer(Question(question.question, collection))
    except ServiceError as exc:
        log.warning("question %s failed: %s", question.id, exc)
        elapsed = (time.perf_counter() - started) * 1000
        return Record(
            question.id, question.is_impossible, question.answers, "", "error", (), None, elapsed
        )
    grounding = response.grounding
    return Record(
        id=question.id,
        is_impossible=question.is_impossible,
        golds=question.answers,
        answer=response.answer if response.mode != "abstained" else "",
        mode=response.mode,
        supports=tuple(s.support for s in grounding.sentences),
        best_score=grounding.best_passage_score,
        total_ms=response.timings.total_ms,
        first_token_ms=response.timings.first_token_ms,
    )


def summarise(records: Sequence[Record]) -> dict[str, float]:
    """Answer quality on answerable questions, abstention, modes and latency."""
    answerable = [r for r in records if not r.is_impossible]
    scores = abstention([r.is_impossible for r in records], [r.abstained for r in records])
    f1 = [token_f1(r.answer, r.golds) for r in answerable]
    squad_v2 = f1 + [float(r.abstained) for r in records if r.is_impossible]
    modes = {m: sum(r.mode == m for r in records) / len(records) for m in _modes(records)}
    return {
        "questions": len(records),
        "em": mean([exact_match(r.answer, r.golds) for r in answerable]),
        "f1": mean(f1),
        "contains_gold": mean([float(contains_gold(r.answer, r.golds)) for r in answerable]),
        "squad_v2_f1": mean(squad_v2),
        "abstain_precision": scores.precision,
        "abstain_recall": scores.recall,
        "answerable_answered": scores.answered_share,
        **{f"mode_{m}": share for m, share in modes.items()},
        "model_declined": sum(r.declined for r in records) / len(records),
        "mean_ms": mean([r.total_ms for r in records]),
        "first_token_ms": mean([r.first_token_ms for r in records if r.first_token_ms is not None]),
        "answer_words": mean([len(r.answer.split()) for r in records if r.answer]),
    }


def _modes(records: Sequence[Record]) -> list[str]:
    return ["abstained", "generative", "extractive"] + (
        ["error"] if any(r.mode == "error" for r in records) else []
    )


def accepted(record: Record, support_threshold: float, min_ratio: float) -> bool:
    """The grounding decision of ``auto`` for a generated answer, re-made offline."""
    if not record.supports:
        return False
    supported = sum(s >= support_threshold for s in record.supports)
    return supported / len(record.supports) >= min_ratio


def simulate_auto(
    generated: Sequence[Record], extracted: Sequence[Record], support: float, ratio: float
) -> list[Record]:
    """What ``auto`` would have answered with these thresholds, from the two runs."""
    out = []
    for gen, ext in zip(generated, extracted, strict=True):
        if gen.id != ext.id:
            raise ValueError("the two runs must hold the same questions in the same order")
        rejected = gen.mode == "generative" and not accepted(gen, support, ratio)
        out.append(ext if rejected else gen)
    return out


def acceptance_quality(
    generated: Sequence[Record], extracted: Sequence[Record], support: float, ratio: float
) -> dict[str, float]:
    """On answerable questions whose generation passes the check: how often the generated
    answer contains the gold answer, and how often the extractive one would have."""
    kept = [
        (gen, ext)
        for gen, ext in zip(generated, extracted, strict=True)
        if not gen.is_impossible and gen.mode == "generative" and accepted(gen, support, ratio)
    ]
    return {
        "accepted_answerable": len(kept),
        "accepted_gold": mean([float(contains_gold(g.answer, g.golds)) for g, _ in kept]),
        "extractive_gold_there": mean([float(contains_gold(e.answer, e.golds)) for _, e in kept]),
    }


def support_sweep(generated: Sequence[Record], extracted: Sequence[Record]) -> list[dict[str, Any]]:
    """``auto`` re-scored over the support-threshold and supported-ratio grids."""
    rows = []
    for support in SUPPORT_GRID:
        for ratio in RATIO_GRID:
            metrics = summarise(simulate_auto(generated, extracted, support, ratio))
            quality = acceptance_quality(generated, extracted, support, ratio)
            rows.append(
                {"support_threshold": support, "min_supported_ratio": ratio, **metrics, **quality}
            )
    return rows


def records_json(records: Sequence[Record]) -> list[dict[str, Any]]:
    return [asdict(r) | {"declined": r.declined} for r in records]


def records_from_json(rows: Sequence[dict[str, Any]]) -> list[Record]:
    """Records as ``records_json`` wrote them."""
    return [
        Record(
            id=r["id"],
            is_impossible=r["is_impossible"],
            golds=tuple(r["golds"]),
            answer=r["answer"],
            mode=r["mode"],
            supports=tuple(r["supports"]),
            best_score=r["best_score"],
            total_ms=r["total_ms"],
            first_token_ms=r["first_token_ms"],
        )
        for r in rows
    ]
