"""Retrieval metrics on hand-computed cases."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from eval.metrics import (
    Gold,
    first_relevant_rank,
    hit_at,
    mrr_at,
    ndcg_at,
    normalise,
    percentile,
    recall_at,
    reciprocal_rank,
    summary,
)


@dataclass(frozen=True)
class P:
    text: str
    source: str


RANKS = [1, 3, None, 6]


def test_hit_at_k_counts_questions_answered_within_k() -> None:
    assert hit_at(RANKS, 1) == 0.25
    assert hit_at(RANKS, 3) == 0.5
    assert hit_at(RANKS, 5) == 0.5
    assert hit_at(RANKS, 6) == 0.75
    assert hit_at([], 5) == 0.0


def test_mrr_uses_the_first_relevant_rank() -> None:
    assert mrr_at(RANKS, 10) == pytest.approx((1 + 1 / 3 + 1 / 6) / 4)
    assert mrr_at(RANKS, 5) == pytest.approx((1 + 1 / 3) / 4)
    assert summary(RANKS)["hit@1"] == 0.25


def test_relevance_needs_the_right_document_and_the_answer_text() -> None:
    gold = Gold.of(["  Normandy\n"], "Normans.txt")
    passages = [
        P("The Normans gave their name to Normandy.", "other/History.txt"),
        P("They settled in the north.", "squad/Normans.txt"),
        P("A region called   NORMANDY in France.", "squad/Normans.txt"),
    ]
    assert first_relevant_rank(passages, gold) == 3
    assert normalise("  A\tB \n C ") == "a b c"


def test_recall_counts_gold_units_found() -> None:
    assert recall_at(1, 2) == 0.5
    assert recall_at(3, 2) == 1.0  # never above one
    assert recall_at(0, 0) == 0.0


def test_reciprocal_rank_of_the_first_relevant_passage() -> None:
    assert reciprocal_rank([False, False, True, True]) == pytest.approx(1 / 3)
    assert reciprocal_rank([False, True], k=1) == 0.0
    assert reciprocal_rank([]) == 0.0


def test_ndcg_with_binary_gains() -> None:
    # relevant at ranks 2 and 3, two relevant known:
    # DCG = 1/log2(3) + 1/log2(4) = 0.63093 + 0.5; IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.63093
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at([False, True, True], 10, 2) == pytest.approx(expected)
    assert ndcg_at([True, False], 10, 1) == 1.0
    # one known relevant, but two found: the ideal is raised to two
    assert ndcg_at([False, True, True], 10, 1) == pytest.approx(expected)
    # a relevant passage below the cut-off does not count
    assert ndcg_at([False, False, True], 2, 1) == 0.0


def test_percentile_interpolates_between_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 50) == 30.0
    assert percentile(values, 95) == pytest.approx(48.0)  # 40 + 0.8 * 10
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
