"""Calibrating ``abstain_threshold``: best passage similarity of answerable vs other questions.

The service abstains when the best dense cosine among the top ``k`` fused
hits is below the threshold (:class:`service.answering.Answerer`); this
module computes that same number for every SQuAD question of a split and
for hand-written probes against the demo corpus, and sweeps the threshold.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval import squad
from eval.probes import PROBES
from eval.provenance import code_version
from eval.qa_metrics import ThresholdRow, choose_threshold, sweep
from eval.squad import IndexRun, build_index
from indexes import Embedder, Hit, IndexReader
from service.settings import Settings

log = logging.getLogger(__name__)

THRESHOLDS = tuple(round(0.02 * i, 2) for i in range(41))
MIN_ANSWERED = 0.90
TOP_K = 5  # Question.top_k's default: the hits the service's abstention looks at
DEMO_CORPUS = squad.PROJECT_ROOT / "corpus"


def best_dense(hits: Sequence[Hit]) -> float | None:
    """The number the service abstains on: the best dense cosine among the hits."""
    return max((h.dense_score or 0.0 for h in hits), default=None)


def best_scores(reader: IndexReader, embedder: Embedder, texts: Sequence[str]) -> list[float]:
    """``best_dense`` of each question's top hits, the questions embedded in one batch."""
    vectors = embedder.embed(list(texts))
    scores = []
    for text, vector in zip(texts, vectors, strict=True):
        best = best_dense(reader.search(text, TOP_K, query_vector=vector))
        scores.append(-1.0 if best is None else best)
    return scores


def squad_index(
    articles: list[squad.Article], split: squad.Split, embedder: Embedder, settings: Settings
) -> IndexRun:
    """The split's index under ``var/bench/squad-<split>`` (reused when current)."""
    folder = squad.PROJECT_ROOT / "var" / "bench" / f"squad-{split}"
    run = build_index(articles, folder, settings.chunker(), embedder)
    run.reader.weights = settings.fusion()
    return run


def corpus_index(embedder: Embedder, settings: Settings) -> IndexReader:
    """The demo corpus indexed under ``var/bench/demo-corpus`` (reused when current)."""
    params = settings.chunker()
    root = (
        squad.PROJECT_ROOT
        / "var"
        / "bench"
        / "demo-corpus"
        / f"index-c{params.chunk_tokens}-o{params.overlap_tokens}-{code_version()}"
    )
    report = settings.pipeline(embedder).run([DEMO_CORPUS], root)
    if report.failed:
        raise RuntimeError(f"ingestion of the demo corpus failed: {report.failed}")
    return settings.reader(root, embedder)


def distribution(scores: Sequence[float]) -> dict[str, float]:
    """Summary of a list of best scores: extremes, deciles 1 and 9, median, mean."""
    ordered = sorted(scores)
    deciles = statistics.quantiles(ordered, n=10, method="inclusive")
    return {
        "n": len(ordered),
        "min": ordered[0],
        "p10": deciles[0],
        "median": statistics.median(ordered),
        "p90": deciles[-1],
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


@dataclass
class Calibration:
    """Best scores per question kind, the threshold sweep and the choice on SQuAD."""

    split: str
    threshold_given: float | None
    squad: dict[str, list[float]] = field(default_factory=dict)
    probes: dict[str, list[float]] = field(default_factory=dict)
    rows: list[ThresholdRow] = field(default_factory=list)
    index: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def chosen(self) -> ThresholdRow:
        """The given threshold's row, or the best by abstention F1 at >= 90 % answered."""
        if self.threshold_given is not None:
            return next(r for r in self.rows if r.threshold == self.threshold_given)
        return choose_threshold(self.rows, MIN_ANSWERED)

    def probe_shares(self, threshold: float) -> dict[str, float]:
        """Share of each probe kind the service would abstain on at ``threshold``."""
        return {k: sum(s < threshold for s in v) / len(v) for k, v in self.probes.items()}


def calibrate(
    data: Path, split: squad.Split, embedder: Embedder, threshold: float | None
) -> Calibration:
    """Score every question of ``split`` and the probes; sweep or check one threshold."""
    started = time.perf_counter()
    settings = Settings()
    articles = squad.split(squad.load_squad(data), split)
    run = squad_index(articles, split, embedder, settings)
    questions = [q for a in articles for q in a.questions]
    scores = best_scores(run.reader, embedder, [q.question for q in questions])
    result = Calibration(split, threshold, index=run.summary(), settings=_settings(settings))
    for kind, impossible in (("answerable", False), ("impossible", True)):
        result.squad[kind] = [
            s for q, s in zip(questions, scores, strict=True) if q.is_impossible == impossible
        ]
    thresholds = THRESHOLDS if threshold is None else (threshold,)
    result.rows = sweep(scores, [q.is_impossible for q in questions], thresholds)
    corpus = corpus_index(embedder, settings)
    result.probes = {k: best_scores(corpus, embedder, qs) for k, qs in PROBES.items()}
    result.wall_seconds = time.perf_counter() - started
    log.info("calibrated on %d questions in %.0fs", len(questions), result.wall_seconds)
    return result


def _settings(settings: Settings) -> dict[str, Any]:
    keys = (
        "embedding_model",
        "chunk_tokens",
        "overlap_tokens",
        "dense_weight",
        "lexical_weight",
        "rrf_k",
        "search_candidates",
        "abstain_threshold",
    )
    return {k: getattr(settings, k) for k in keys} | {"top_k": TOP_K}


def as_json(result: Calibration) -> dict[str, Any]:
    """The report's JSON body (without the provenance that ``eval.bench.squad_answers`` adds)."""
    return {
        "split": result.split,
        "rule": f"max abstention F1 with >= {MIN_ANSWERED:.0%} of answerable questions answered",
        "chosen": _row_json(result, result.chosen),
        "sweep": [_row_json(result, r) for r in result.rows],
        "distributions": {
            **{f"squad_{k}": distribution(v) for k, v in result.squad.items()},
            **{f"corpus_{k}": distribution(v) for k, v in result.probes.items()},
        },
        "probe_scores": result.probes,
        "settings": result.settings,
        "index": result.index,
        "wall_seconds": result.wall_seconds,
    }


def _row_json(result: Calibration, row: ThresholdRow) -> dict[str, Any]:
    s = row.scores
    probes = {f"corpus_{k}_abstained": v for k, v in result.probe_shares(row.threshold).items()}
    return {
        "threshold": row.threshold,
        "precision": s.precision,
        "recall": s.recall,
        "f1": s.f1,
        "answered_share": s.answered_share,
        "abstained": s.abstained,
        **probes,
    }


def markdown(result: Calibration) -> str:
    """Distributions, then the sweep (every other threshold), the chosen row in bold."""
    lines = ["| questions | n | min | p10 | median | p90 | max |", "|---|---|---|---|---|---|---|"]
    named = {f"SQuAD {k}": v for k, v in result.squad.items()}
    named |= {f"corpus {k}": v for k, v in result.probes.items()}
    for name, scores in named.items():
        d = distribution(scores)
        cells = " | ".join(f"{d[c]:.3f}" for c in ("min", "p10", "median", "p90", "max"))
        lines.append(f"| {name} | {d['n']} | {cells} |")
    lines += [
        "",
        "| threshold | abst. P | abst. R | abst. F1 | answerable answered "
        "| corpus off-topic abst. | uncovered-ML abst. | in-domain abst. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    chosen = result.chosen
    for row in result.rows:
        if row is not chosen and round(row.threshold * 50) % 2:
            continue
        s, p = row.scores, result.probe_shares(row.threshold)
        mark = "**" if row is chosen else ""
        lines.append(
            f"| {mark}{row.threshold:.2f}{mark} | {s.precision:.3f} | {s.recall:.3f} | "
            f"{s.f1:.3f} | {s.answered_share:.3f} | {p['off_topic']:.2f} | "
            f"{p['uncovered_ml']:.2f} | {p['in_domain']:.2f} |"
        )
    return "\n".join(lines)


# A collection's own threshold, from a labelled set of its own questions: the rule chosen
# on SQuAD dev (see BENCHMARKS.md), because refusing a covered question is the worse error.
MIN_ANSWERED_COLLECTION = 0.975
FINE_THRESHOLDS = tuple(round(0.01 * i, 2) for i in range(81))


@dataclass
class CollectionCalibration:
    """The best-score sweep of one collection's questions and the threshold the rule picks."""

    collection: str
    dataset: str
    answerable: list[float]
    unanswerable: list[float]
    rows: list[ThresholdRow]
    current: float  # the threshold in force before

    @property
    def chosen(self) -> ThresholdRow:
        """The highest threshold that still answers 97.5% of the answerable questions."""
        allowed = [r for r in self.rows if r.scores.answered_share >= MIN_ANSWERED_COLLECTION]
        if not allowed:
            raise ValueError("no threshold answers 97.5% of the answerable questions")
        return max(allowed, key=lambda r: r.threshold)

    def row_at(self, threshold: float) -> ThresholdRow:
        return sweep(
            self.answerable + self.unanswerable,
            [False] * len(self.answerable) + [True] * len(self.unanswerable),
            [threshold],
        )[0]


def calibrate_collection(
    reader: IndexReader,
    embedder: Embedder,
    questions: Sequence[tuple[str, bool]],
    *,
    collection: str,
    dataset: str,
    current: float,
) -> CollectionCalibration:
    """Sweep the abstention threshold over ``(question, answerable)`` pairs asked of
    ``reader``'s collection, with the number the service abstains on."""
    if not any(answerable for _, answerable in questions):
        raise ValueError("the dataset has no answerable question to calibrate on")
    scores = best_scores(reader, embedder, [text for text, _ in questions])
    should_abstain = [not answerable for _, answerable in questions]
    return CollectionCalibration(
        collection=collection,
        dataset=dataset,
        answerable=[s for s, a in zip(scores, should_abstain, strict=True) if not a],
        unanswerable=[s for s, a in zip(scores, should_abstain, strict=True) if a],
        rows=sweep(scores, should_abstain, FINE_THRESHOLDS),
        current=current,
    )


def collection_table(result: CollectionCalibration) -> list[dict[str, float | int]]:
    """The curve: every 0.02 from 0 up to where nothing is answered any more, with the
    threshold in force and the chosen one."""
    marked = {result.chosen.threshold, round(result.current, 2)}
    rows = []
    for row in result.rows:
        if round(row.threshold * 100) % 2 and row.threshold not in marked:
            continue
        s = row.scores
        rows.append(
            {
                "threshold": row.threshold,
                "answerable_answered": s.answered_share,
                "unanswerable_abstained": s.recall,
                "abstention_f1": s.f1,
            }
        )
        if s.answered_share == 0:
            break
    return rows
