"""Scoring one answered question, and summarising a run's scores.

:func:`score` turns what the service returned for one :class:`Item`
(an :class:`Observation`) into the row written to ``results.jsonl``;
:func:`summarise` averages the rows into the metrics of ``summary.json``.
The metric definitions live in :mod:`eval.metrics`, :mod:`eval.qa_metrics`
and :mod:`eval.relevance`; this module only applies them.

An abstention, the threshold's or the model's own refusal, is the empty
answer: it matches no gold answer and covers no key point.  The ``answering``
group says how often answerable questions were answered and unanswerable
ones declined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from eval.datasets import Item
from eval.metrics import MRR_K, ndcg_at, percentile, recall_at, reciprocal_rank
from eval.qa_metrics import abstention, contains_gold, key_point_covered, mean, squad_v2_scores
from eval.relevance import gold_units, is_relevant, units_found
from service.answering import declines

RETRIEVAL_KS = (1, 3, 5, 10)
LATENCIES = ("search_ms", "retrieval_ms", "first_token_ms", "total_ms")
_SNIPPET = 400


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved or cited passage as the service reported it."""

    chunk_id: str
    source: str
    text: str
    page: int | None = None
    score: float = 0.0
    dense_score: float | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """What the service answered for one question, and how long each part took (ms)."""

    answer: str
    mode: str
    reason: str
    cited: list[Passage]
    retrieved: list[Passage]
    supported: list[bool]  # one per answer sentence
    best_score: float | None
    abstain_threshold: float | None
    timings: dict[str, float | None] = field(default_factory=dict)
    judge: dict[str, float] | None = None
    rejected_answer: str | None = None  # the generated answer verification turned down
    quote: str | None = None  # the notes' words shown beneath a generated answer

    @property
    def abstained(self) -> bool:
        """Abstained by the threshold, or the model's own refusal."""
        return self.mode == "abstained" or declines(self.answer)


def _passages(passages: Sequence[Passage], item: Item, keep_text: int) -> list[dict[str, Any]]:
    rows = []
    for rank, p in enumerate(passages):
        row = asdict(p) | {"relevant": item.judged_retrieval and is_relevant(p, item)}
        row["text"] = p.text[:_SNIPPET] if rank < keep_text else ""
        rows.append(row)
    return rows


def _retrieval(item: Item, retrieved: Sequence[Passage]) -> dict[str, float]:
    relevance = [is_relevant(p, item) for p in retrieved]
    scores = {f"hit@{k}": float(any(relevance[:k])) for k in RETRIEVAL_KS}
    total = gold_units(item)
    for k in (5, 10):
        scores[f"recall@{k}"] = recall_at(units_found(retrieved[:k], item), total)
    scores[f"mrr@{MRR_K}"] = reciprocal_rank(relevance, MRR_K)
    scores["ndcg@10"] = ndcg_at(relevance, 10, total)
    return scores


def score(item: Item, seen: Observation) -> dict[str, Any]:
    """The ``results.jsonl`` row of one question: what was answered and how it scores."""
    prediction = "" if seen.abstained else seen.answer
    # What the learner reads: the answer and the notes' words quoted beneath it.
    read = prediction if seen.quote is None else f"{prediction}\n\n{seen.quote}"
    scores: dict[str, Any] = {}
    if item.answers or not item.answerable:  # an answerable item may name only its sources
        em, f1 = squad_v2_scores(prediction, item.answers if item.answerable else ())
        scores |= {"em": em, "f1": f1}
    if item.answerable and item.answers:
        scores["contains_gold"] = float(contains_gold(prediction, item.answers))
    missed = [p for p in item.key_points if not key_point_covered(p, read)]
    if item.answerable and item.key_points:
        scores["key_points"] = 1.0 - len(missed) / len(item.key_points)
        scores["all_key_points"] = float(not missed)
    if item.answerable and item.judged_retrieval:
        scores |= _retrieval(item, seen.retrieved)
        if not seen.abstained:
            scores["cited"] = len(seen.cited)
            scores["cited_relevant"] = sum(is_relevant(p, item) for p in seen.cited)
    if not seen.abstained:
        scores["sentences"] = len(seen.supported)
        scores["supported_sentences"] = sum(seen.supported)
    return {
        **_about(item),
        "key_points_missed": missed,
        "answer": seen.answer,
        "mode": seen.mode,
        "reason": seen.reason,
        "quote": seen.quote,
        "rejected_answer": seen.rejected_answer,
        "abstained": seen.abstained,
        "best_score": seen.best_score,
        "abstain_threshold": seen.abstain_threshold,
        "scores": scores,
        "timings": seen.timings,
        "judge": seen.judge,
        "cited": _passages(seen.cited, item, keep_text=len(seen.cited)),
        "retrieved": _passages(seen.retrieved, item, keep_text=3),
        "error": None,
    }


def failed(item: Item, message: str) -> dict[str, Any]:
    """The row of a question the service could not answer."""
    return {**_about(item), "error": message}


def _about(item: Item) -> dict[str, Any]:
    """What a row says of its question, answered or not."""
    return {
        "id": item.id,
        "question": item.question,
        "kind": item.kind,
        "answerable": item.answerable,
        "golds": list(item.answers),
        "key_points": list(item.key_points),
    }


def _mean_of(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [r["scores"][key] for r in rows if key in r["scores"]]
    return mean(values) if values else None


def _pooled(rows: Sequence[dict[str, Any]], part: str, whole: str) -> float | None:
    denominator = sum(r["scores"].get(whole, 0) for r in rows)
    return sum(r["scores"].get(part, 0) for r in rows) / denominator if denominator else None


def _answers(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    has = [r for r in rows if r["answerable"]]
    no = [r for r in rows if not r["answerable"]]
    metrics: dict[str, float | None] = {"exact": _mean_of(rows, "em"), "f1": _mean_of(rows, "f1")}
    metrics |= {"has_ans_exact": _mean_of(has, "em"), "has_ans_f1": _mean_of(has, "f1")}
    metrics |= {"no_ans_exact": _mean_of(no, "em"), "no_ans_f1": _mean_of(no, "f1")}
    metrics["contains_gold"] = _mean_of(has, "contains_gold")
    return metrics


def _abstention(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    result = abstention([not r["answerable"] for r in rows], [r["abstained"] for r in rows])
    both_kinds = 0 < result.unanswerable < len(rows)
    return {
        "precision": result.precision if both_kinds else None,
        "recall": result.recall if result.unanswerable else None,
        "f1": result.f1 if both_kinds else None,
        "answered_answerable": result.answered_share if result.unanswerable < len(rows) else None,
        "abstained_share": result.abstained / len(rows),
    }


def _key_points(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Over answerable questions with key points: all of them made, and the mean share."""
    return {
        "all_covered": _mean_of(rows, "all_key_points"),
        "mean_recall": _mean_of(rows, "key_points"),
    }


def _share(rows: Sequence[dict[str, Any]], abstained: bool) -> float | None:
    return mean([float(r["abstained"] == abstained) for r in rows]) if rows else None


def _answering(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """How often answerable questions were answered and unanswerable ones declined."""
    has = [r for r in rows if r["answerable"]]
    no = [r for r in rows if not r["answerable"]]
    return {
        "answered_share": _share(has, abstained=False),
        "refused_answerable": _share(has, abstained=True),
        "abstained_unanswerable": _share(no, abstained=True),
    }


def _latency(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out = {}
    for key in LATENCIES:
        values = [r["timings"][key] for r in rows if r["timings"].get(key) is not None]
        if values:
            out[key] = {f"p{q}": percentile(values, q) for q in (50, 95, 99)}
            out[key]["mean"] = mean(values)
    return out


def _judge(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    judged = [r["judge"] for r in rows if r.get("judge")]
    keys = sorted({k for j in judged for k in j})
    return {k: mean([j[k] for j in judged if k in j]) for k in keys}


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every metric of a run, grouped; ``None`` where a metric has no questions."""
    answered = [r for r in rows if r.get("error") is None]
    judged = [r for r in answered if "hit@1" in r["scores"]]
    with_points = [r for r in answered if "key_points" in r["scores"]]
    modes = sorted({r["mode"] for r in answered})
    return {
        "counts": {
            "questions": len(rows),
            "errors": len(rows) - len(answered),
            "retrieval_judged": len(judged),
            "key_points_judged": len(with_points),
            **{f"mode_{m}": sum(r["mode"] == m for r in answered) for m in modes},
        },
        "retrieval": {key: _mean_of(judged, key) for key in _retrieval_keys()},
        "answers": _answers(answered),
        "key_points": _key_points(with_points),
        "answering": _answering(answered),
        "abstention": _abstention(answered) if answered else {},
        "grounding": {
            "supported_sentences": _pooled(answered, "supported_sentences", "sentences"),
            "citation_precision": _pooled(answered, "cited_relevant", "cited"),
        },
        "latency": _latency(answered),
        "judge": _judge(answered),
    }


def _retrieval_keys() -> list[str]:
    return [f"hit@{k}" for k in RETRIEVAL_KS] + ["recall@5", "recall@10", f"mrr@{MRR_K}", "ndcg@10"]


def flatten(summary: dict[str, Any]) -> dict[str, float]:
    """``group.metric`` (and ``latency.key.p50``) -> value, leaving out ``None``s."""
    flat: dict[str, float] = {}
    for group, metrics in summary.items():
        for name, value in metrics.items():
            if isinstance(value, dict):
                flat |= {f"{group}.{name}.{q}": v for q, v in value.items()}
            elif value is not None:
                flat[f"{group}.{name}"] = float(value)
    return flat
