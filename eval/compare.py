"""``syllabus eval compare A B``: what changed between two runs, and whether it got worse.

Quality metrics (0-1, higher is better) regress when B is lower than A by
more than ``tolerance`` (absolute); those where lower is better
(:data:`LOWER_IS_BETTER`, such as the share of answerable questions refused)
regress when B is higher by as much.  Latency metrics regress when B is slower
by more than ``latency_tolerance`` (relative: 0.5 is 50 % slower).  A run
with more failed questions than the other regresses too.  Counts other than
errors are shown, never judged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.runner import SUMMARY
from eval.scoring import flatten

LOWER_IS_BETTER = frozenset({"answering.refused_answerable"})


class CompareError(ValueError):
    """A run folder or summary that cannot be compared."""


@dataclass(frozen=True, slots=True)
class Delta:
    metric: str
    before: float | None
    after: float | None
    regressed: bool

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


def load_summary(path: Path) -> dict[str, Any]:
    """A run folder's ``summary.json`` (or that file itself)."""
    file = path / SUMMARY if path.is_dir() else path
    if not file.is_file():
        raise CompareError(f"no {SUMMARY} at {path}: is it an eval run's --out folder?")
    try:
        summary: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        summary["metrics"]
    except (ValueError, KeyError):
        raise CompareError(f"{file} is not a summary written by `syllabus eval run`") from None
    return summary


def _regressed(metric: str, before: float, after: float, tol: float, latency_tol: float) -> bool:
    if metric.startswith("latency."):
        return metric.endswith((".p50", ".p95", ".p99")) and after > before * (1 + latency_tol)
    if metric == "counts.errors":
        return after > before
    if metric.startswith("counts."):
        return False
    if metric in LOWER_IS_BETTER:
        return after > before + tol
    return after < before - tol


def compare(
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    tolerance: float = 0.01,
    latency_tolerance: float = 0.5,
) -> list[Delta]:
    """Every metric of either run, with whether it regressed."""
    a, b = flatten(before["metrics"]), flatten(after["metrics"])
    deltas = []
    for metric in sorted(a.keys() | b.keys()):
        x, y = a.get(metric), b.get(metric)
        bad = (
            x is not None
            and y is not None
            and _regressed(metric, x, y, tolerance, latency_tolerance)
        )
        deltas.append(Delta(metric, x, y, bad))
    return deltas


def same_questions(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Warnings when the two runs did not ask the same questions of the same data."""
    warnings = []
    if before["dataset"]["sha256"] != after["dataset"]["sha256"]:
        warnings.append("the two runs used different dataset files")
    for key in ("split", "questions"):
        if before["dataset"][key] != after["dataset"][key]:
            warnings.append(f"the datasets differ in {key}")
    if before["sample"] != after["sample"]:
        warnings.append("the runs drew different samples of questions")
    styles = [s.get("style", "explain") for s in (before, after)]  # older runs: the default
    if styles[0] != styles[1]:
        warnings.append(f"the runs asked for different answer styles ({' vs '.join(styles)})")
    return warnings
