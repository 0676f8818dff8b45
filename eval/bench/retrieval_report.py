"""The retrieval benchmark's report: results per configuration, the choice among them.

Its JSON records the metrics, the configuration behind each row, the manifests of
the indexes searched, the data file's hash and the git commit (``eval.provenance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.metrics import MRR_K
from eval.provenance import git_commit, sha256_file
from indexes import FusionWeights

METRIC_NAMES = ("hit@1", "hit@3", "hit@5", f"mrr@{MRR_K}")


def fusion_label(weights: FusionWeights) -> str:
    if weights.lexical == 0:
        return "dense"
    if weights.dense == 0:
        return "bm25"
    return f"rrf d={weights.dense:g} l={weights.lexical:g} k={weights.rrf_k}"


@dataclass(frozen=True, slots=True)
class Result:
    """The metrics of one (chunk size, fusion) configuration."""

    chunk_tokens: int
    fusion: FusionWeights
    metrics: dict[str, float]
    questions: int
    seconds: float

    @property
    def label(self) -> str:
        return fusion_label(self.fusion)

    def key(self) -> tuple[float, float, float]:
        """What the choice maximises: hit@5, then hit@1, then MRR@10."""
        return (self.metrics["hit@5"], self.metrics["hit@1"], self.metrics[f"mrr@{MRR_K}"])

    def as_json(self) -> dict[str, Any]:
        return {
            "chunk_tokens": self.chunk_tokens,
            "label": self.label,
            "fusion": asdict(self.fusion),
            **self.metrics,
            "questions": self.questions,
            "seconds": self.seconds,
        }


@dataclass
class Report:
    """Everything one benchmark run measured, and what it was measured on."""

    split: str
    data: Path
    questions: int
    sampled: bool
    embed_seconds: float
    results: list[Result] = field(default_factory=list)
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def chosen(self) -> Result:
        if not self.results:
            raise ValueError("no configuration has been evaluated")
        return max(self.results, key=Result.key)

    def as_json(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "data": {"path": str(self.data), "sha256": sha256_file(self.data)},
            "git_commit": git_commit(),
            "questions": {"evaluated": self.questions, "sampled": self.sampled},
            "question_embedding_seconds": self.embed_seconds,
            "results": [r.as_json() for r in self.results],
            "chosen": self.chosen.as_json(),
            "latency": self.latency,
            "indexes": self.indexes,
            "wall_seconds": self.wall_seconds,
        }


def markdown(results: Sequence[Result], chosen: Result | None = None) -> str:
    """A table with one row per (chunk size, fusion); the chosen row in bold."""
    lines = ["| chunk | fusion | hit@1 | hit@3 | hit@5 | MRR@10 |", "|---|---|---|---|---|---|"]
    for r in results:
        mark = "**" if r is chosen else ""
        cells = " | ".join(f"{r.metrics[m]:.3f}" for m in METRIC_NAMES)
        lines.append(f"| {r.chunk_tokens} | {mark}{r.label}{mark} | {cells} |")
    return "\n".join(lines)
