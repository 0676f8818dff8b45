"""Strategy bookkeeping on hand-made records: sampling, offline auto, summaries."""

from __future__ import annotations

import json

import pytest

from eval import squad
from eval.bench.strategies import (
    Record,
    acceptance_quality,
    accepted,
    records_from_json,
    records_json,
    sample_questions,
    simulate_auto,
    summarise,
)
from eval.calibration import best_dense, distribution
from indexes import Chunk, Hit


def _record(
    id: str,
    answer: str,
    mode: str = "extractive",
    *,
    is_impossible: bool = False,
    golds: tuple[str, ...] = ("Paris",),
    supports: tuple[float, ...] = (),
    total_ms: float = 100.0,
    first_token_ms: float | None = None,
) -> Record:
    return Record(id, is_impossible, golds, answer, mode, supports, 0.5, total_ms, first_token_ms)


def _articles() -> list[squad.Article]:
    questions = tuple(
        squad.Question(f"q{i}", "?", () if i % 2 else ("x",), bool(i % 2), "A", 0)
        for i in range(20)
    )
    return [squad.Article("A", ("text",), questions)]


def test_sample_is_two_thirds_answerable_fixed_and_in_file_order() -> None:
    chosen = sample_questions(_articles(), 9, seed=3)
    assert sum(q.answerable for q in chosen) == 6
    assert sum(q.is_impossible for q in chosen) == 3
    assert [q.id for q in chosen] == [q.id for q in sample_questions(_articles(), 9, seed=3)]
    assert [int(q.id[1:]) for q in chosen] == sorted(int(q.id[1:]) for q in chosen)


def test_acceptance_needs_the_share_of_supported_sentences() -> None:
    two_of_three = _record("a", "x", "generative", supports=(0.7, 0.65, 0.4))
    assert accepted(two_of_three, 0.6, 0.66)
    assert not accepted(two_of_three, 0.6, 0.67)
    assert not accepted(two_of_three, 0.7, 0.5)  # 1 of 3 at 0.7
    assert not accepted(_record("b", "", "generative"), 0.0, 0.0)  # no sentence at all


def test_simulated_auto_keeps_passing_generations_and_falls_back_otherwise() -> None:
    generated = [
        _record("1", "Paris [1]", "generative", supports=(0.9,)),
        _record("2", "Lyon [1]", "generative", supports=(0.3,)),
        _record("3", "", "abstained"),
    ]
    extracted = [_record("1", "E1"), _record("2", "E2"), _record("3", "", "abstained")]
    answers = simulate_auto(generated, extracted, 0.6, 0.67)
    assert [r.answer for r in answers] == ["Paris [1]", "E2", ""]
    with pytest.raises(ValueError):
        simulate_auto(generated[:1], extracted[1:2], 0.6, 0.67)


def test_acceptance_quality_compares_accepted_generations_with_extracts() -> None:
    generated = [
        _record("1", "Paris [1]", "generative", supports=(0.9,)),
        _record("2", "Lyon [1]", "generative", supports=(0.8,)),
        _record("3", "Nice [1]", "generative", supports=(0.2,)),
    ]
    extracted = [_record("1", "E"), _record("2", "Paris is it"), _record("3", "Paris")]
    quality = acceptance_quality(generated, extracted, 0.6, 0.67)
    assert quality == {
        "accepted_answerable": 2,
        "accepted_gold": 0.5,
        "extractive_gold_there": 0.5,
    }


def test_records_survive_their_json_form() -> None:
    records = [_record("1", "Paris [1]", "generative", supports=(0.9, 0.5), first_token_ms=3.0)]
    assert records_from_json(json.loads(json.dumps(records_json(records)))) == records


def test_summary_scores_answerable_questions_and_counts_refusals_as_abstentions() -> None:
    records = [
        _record("1", "Paris [1]", "generative", first_token_ms=50.0),
        _record("2", "It is Lyon, not Paris. [2]"),
        _record("3", "", "abstained", is_impossible=True, golds=(), total_ms=10.0),
        _record("4", "**NOT COVERED**", "generative", is_impossible=True),
    ]
    s = summarise(records)
    assert s["em"] == 0.5  # of the two answerable questions
    assert s["contains_gold"] == 1.0
    # F1: "paris" -> 1; "it is lyon not paris" (5 tokens) vs "paris": P 1/5, R 1 -> 1/3
    assert s["f1"] == pytest.approx((1 + 1 / 3) / 2)
    assert s["squad_v2_f1"] == pytest.approx((1 + 1 / 3 + 1 + 1) / 4)
    assert (s["abstain_precision"], s["abstain_recall"]) == (1.0, 1.0)
    assert (s["mode_abstained"], s["mode_generative"], s["model_declined"]) == (0.25, 0.5, 0.25)
    assert s["mean_ms"] == pytest.approx(77.5)
    assert s["first_token_ms"] == 50.0


def test_best_dense_is_the_highest_cosine_among_the_hits() -> None:
    chunk = Chunk("c", "d", "t", "t", "T", "s")
    hits = [Hit(chunk, 0.2, dense_score=0.3), Hit(chunk, 0.1, dense_score=0.6), Hit(chunk, 0.1)]
    assert best_dense(hits) == 0.6
    assert best_dense([]) is None


def test_distribution_reports_extremes_and_median() -> None:
    d = distribution([0.5, 0.1, 0.3])
    assert (d["n"], d["min"], d["median"], d["max"]) == (3, 0.1, 0.3, 0.5)
    assert d["mean"] == pytest.approx(0.3)
