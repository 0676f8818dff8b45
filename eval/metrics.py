"""Retrieval metrics: pure functions over ranked passages and gold answers.

A retrieved passage is *relevant* to a question when it comes from the
question's document and its text contains one of the gold answers, both
compared case-insensitively with whitespace runs collapsed.  Per question,
the unit of account is the rank of the first relevant passage (``None``
when none was retrieved); hit@k and MRR@k are averages over those ranks.
Only answerable questions belong in these averages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

HIT_KS = (1, 3, 5)
MRR_K = 10


class Passage(Protocol):
    """What relevance needs of a retrieved chunk (``indexes.Chunk`` has both)."""

    @property
    def text(self) -> str: ...

    @property
    def source(self) -> str: ...


def normalise(text: str) -> str:
    """Lower case with every whitespace run made a single space, trimmed."""
    return " ".join(text.lower().split())


@dataclass(frozen=True, slots=True)
class Gold:
    """A question's gold answers (normalised) and the file name of its document."""

    answers: tuple[str, ...]
    document: str

    @classmethod
    def of(cls, answers: Iterable[str], document: str) -> Gold:
        normalised = (normalise(a) for a in answers)
        return cls(tuple(dict.fromkeys(a for a in normalised if a)), document)


def from_document(source: str, document: str) -> bool:
    """Whether a chunk's ``source`` (``folder/name.txt`` or ``name.txt``) is ``document``."""
    return source == document or source.endswith(f"/{document}")


def is_relevant(passage: Passage, gold: Gold) -> bool:
    if not from_document(passage.source, gold.document):
        return False
    text = normalise(passage.text)
    return any(answer in text for answer in gold.answers)


def first_relevant_rank(passages: Sequence[Passage], gold: Gold) -> int | None:
    """1-based rank of the first relevant passage, or ``None``."""
    for rank, passage in enumerate(passages, start=1):
        if is_relevant(passage, gold):
            return rank
    return None


def hit_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions with a relevant passage in the top ``k``."""
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr_at(ranks: Sequence[int | None], k: int) -> float:
    """Mean reciprocal rank of the first relevant passage, counting ranks up to ``k``."""
    if not ranks:
        return 0.0
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks)


def summary(ranks: Sequence[int | None]) -> dict[str, float]:
    """hit@1, hit@3, hit@5 and MRR@10, keyed by name."""
    metrics = {f"hit@{k}": hit_at(ranks, k) for k in HIT_KS}
    metrics[f"mrr@{MRR_K}"] = mrr_at(ranks, MRR_K)
    return metrics


def recall_at(found: int, total: int) -> float:
    """Share of the ``total`` gold units (chunks, sources or answers) found; 0 for none."""
    return min(found, total) / total if total else 0.0


def reciprocal_rank(relevance: Sequence[bool], k: int = MRR_K) -> float:
    """1/rank of the first relevant passage within the top ``k``, else 0."""
    for rank, relevant in enumerate(relevance[:k], start=1):
        if relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at(relevance: Sequence[bool], k: int, n_relevant: int) -> float:
    """Binary-gain nDCG@k: DCG of the ranking over that of ``n_relevant`` relevant
    passages ranked first (``n_relevant`` is raised to the relevant ones seen)."""
    gains = [float(r) for r in relevance[:k]]
    dcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, start=1))
    ideal_count = min(k, max(n_relevant, int(sum(gains))))
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, ideal_count + 1))
    return dcg / ideal if ideal else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
