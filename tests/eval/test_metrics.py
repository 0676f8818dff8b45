"""Retrieval metrics on hand-computed cases."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from eval.metrics import Gold, first_relevant_rank, hit_at, mrr_at, normalise, summary


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
