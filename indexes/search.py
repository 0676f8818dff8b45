"""Hybrid retrieval: dense and BM25 rankings fused by weighted reciprocal rank.

RRF scores a chunk by ``sum(weight / (rrf_k + rank))`` over the rankings it
appears in (rank 1 is best).  It needs no score calibration between cosine
similarities and BM25 scores, which live on different scales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """How the two rankings are combined; measured on the SQuAD dev split (BENCHMARKS.md)."""

    dense: float = 1.0
    lexical: float = 1.5
    rrf_k: int = 10
    candidates: int = 50


@dataclass(frozen=True, slots=True)
class Fused:
    row: int
    score: float
    dense_rank: int | None
    lexical_rank: int | None


def top_rows(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Rows of the ``k`` highest positive scores, best first."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > k:
        positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
    return positive[np.argsort(-scores[positive], kind="stable")].astype(np.int64)


def fuse(
    dense_rows: npt.NDArray[np.int64],
    lexical_rows: npt.NDArray[np.int64],
    weights: FusionWeights,
) -> list[Fused]:
    """Fuse two best-first row rankings; the result is best first."""
    dense_rank = {int(r): i + 1 for i, r in enumerate(dense_rows) if r >= 0}
    lexical_rank = {int(r): i + 1 for i, r in enumerate(lexical_rows)}
    fused = []
    for row in dense_rank.keys() | lexical_rank.keys():
        d, lex = dense_rank.get(row), lexical_rank.get(row)
        score = 0.0
        if d is not None:
            score += weights.dense / (weights.rrf_k + d)
        if lex is not None:
            score += weights.lexical / (weights.rrf_k + lex)
        fused.append(Fused(row, score, d, lex))
    # Ties (common with one retriever weighted to zero) go to the dense ranking.
    fused.sort(key=lambda f: (-f.score, f.dense_rank or 1 << 30, f.lexical_rank or 1 << 30))
    return fused
