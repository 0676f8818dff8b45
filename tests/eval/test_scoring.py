"""Relevance, per-question scoring and run summaries on hand-built answers."""

from __future__ import annotations

from typing import Any

import pytest

from eval.datasets import Item
from eval.relevance import gold_units, is_relevant, units_found
from eval.scoring import Observation, Passage, flatten, score, summarise
from service.answering import NOT_COVERED

PARIS = Passage("c1", "docs/france.txt", "The capital of France is Paris.")
LYON = Passage("c2", "docs/france.txt", "Lyon lies on the Rhone.")
ELSEWHERE = Passage("c3", "docs/other.txt", "Paris, Texas, is a small town.")


def test_relevance_by_chunk_ids_then_sources_then_answers() -> None:
    by_chunk = Item("q", "?", answers=("Paris",), chunk_ids=("c2",))
    assert [is_relevant(p, by_chunk) for p in (PARIS, LYON)] == [False, True]
    by_source = Item("q", "?", sources=("france.txt",))
    assert [is_relevant(p, by_source) for p in (PARIS, LYON, ELSEWHERE)] == [True, True, False]
    by_answer = Item("q", "?", answers=("paris",), document="france.txt")
    assert [is_relevant(p, by_answer) for p in (PARIS, LYON, ELSEWHERE)] == [True, False, False]
    anywhere = Item("q", "?", answers=("Paris",))
    assert is_relevant(ELSEWHERE, anywhere)


def test_units_found_count_distinct_gold_units() -> None:
    two_sources = Item("q", "?", sources=("france.txt", "other.txt"))
    assert gold_units(two_sources) == 2
    assert units_found([PARIS, LYON], two_sources) == 1
    assert units_found([PARIS, ELSEWHERE], two_sources) == 2
    answer = Item("q", "?", answers=("Paris",))
    assert gold_units(answer) == 1
    assert units_found([PARIS, ELSEWHERE], answer) == 1


def observed(answer: str, mode: str = "extractive", **changes: Any) -> Observation:
    fields: dict[str, Any] = {
        "answer": answer,
        "mode": mode,
        "reason": "test",
        "cited": [PARIS],
        "retrieved": [LYON, PARIS, ELSEWHERE],
        "supported": [True, False],
        "best_score": 0.6,
        "abstain_threshold": 0.3,
        "timings": {"total_ms": 100.0, "first_token_ms": 40.0},
    }
    return Observation(**(fields | changes))


def test_score_of_an_answerable_question() -> None:
    item = Item("q1", "What is the capital of France?", answers=("Paris",), document="france.txt")
    row = score(item, observed("Paris [1]. It is big."))
    scores = row["scores"]
    assert scores["em"] == 0.0  # "paris it is big" is not "paris"
    assert scores["f1"] == pytest.approx(2 * 0.25 / 1.25)
    assert scores["contains_gold"] == 1.0
    assert (scores["hit@1"], scores["hit@3"]) == (0.0, 1.0)
    assert scores["mrr@10"] == 0.5
    assert (scores["cited"], scores["cited_relevant"]) == (1, 1)
    assert (scores["sentences"], scores["supported_sentences"]) == (2, 1)
    assert [p["relevant"] for p in row["retrieved"]] == [False, True, False]


def test_no_answer_questions_are_right_only_when_abstained() -> None:
    item = Item("q2", "Who is the king of Mars?", answerable=False)
    abstained = score(item, observed(NOT_COVERED, "abstained"))
    assert abstained["abstained"] and abstained["scores"] == {"em": 1.0, "f1": 1.0}
    declined = score(item, observed("NOT COVERED.", "generative"))
    assert declined["abstained"]  # the model's own refusal counts as abstaining
    answered = score(item, observed("Paris [1]."))
    assert answered["scores"]["em"] == 0.0
    assert "hit@1" not in answered["scores"]  # no retrieval metrics without an answer


def test_summary_splits_has_answer_and_no_answer_like_squad() -> None:
    answerable = Item("a", "capital?", answers=("Paris",), document="france.txt")
    impossible = Item("b", "king of Mars?", answerable=False)
    rows = [
        score(answerable, observed("Paris [1].")),  # EM 1
        score(answerable, observed("", "abstained", cited=[], supported=[])),  # missed: 0
        score(impossible, observed("", "abstained", cited=[], supported=[])),  # right: 1
        score(impossible, observed("Lyon [1].")),  # wrong: 0
    ]
    metrics = summarise(rows)
    answers = metrics["answers"]
    assert (answers["has_ans_exact"], answers["no_ans_exact"], answers["exact"]) == (0.5, 0.5, 0.5)
    abstention = metrics["abstention"]
    assert (abstention["precision"], abstention["recall"]) == (0.5, 0.5)
    assert abstention["answered_answerable"] == 0.5
    # supported sentences pooled over answered questions: (1 + 1) of (2 + 2)
    assert metrics["grounding"]["supported_sentences"] == 0.5
    assert metrics["retrieval"]["hit@3"] == 1.0
    assert metrics["latency"]["total_ms"]["p50"] == 100.0
    assert metrics["counts"] == {
        "questions": 4,
        "errors": 0,
        "retrieval_judged": 2,
        "key_points_judged": 0,
        "mode_abstained": 2,
        "mode_extractive": 2,
    }
    flat = flatten(metrics)
    assert flat["answers.exact"] == 0.5 and flat["latency.total_ms.p99"] == 100.0


FORGET = Item(
    "f", "what does its forget gate do?", sources=("france.txt",), key_points=("cell state", "keep")
)
NO_COVER = Item("n", "what is splade?", answerable=False)
DECLINED = NOT_COVERED


def test_key_points_score_the_share_made_and_whether_all_were() -> None:
    both = score(FORGET, observed("It decides how much of the cell state to keep [1]."))
    assert (both["scores"]["key_points"], both["scores"]["all_key_points"]) == (1.0, 1.0)
    half = score(FORGET, observed("It erases parts of the cell state [1]."))
    assert (half["scores"]["key_points"], half["scores"]["all_key_points"]) == (0.5, 0.0)
    assert half["key_points_missed"] == ["keep"]
    refused = score(FORGET, observed(f"{DECLINED} It would keep the cell state.", "generative"))
    assert refused["scores"]["key_points"] == 0.0  # a refusal covers nothing it says
    assert "key_points" not in score(NO_COVER, observed("", "abstained"))["scores"]


def test_summary_of_key_points_and_of_answering() -> None:
    rows = [
        score(FORGET, observed("It decides how much of the cell state to keep [1].")),  # 1, all
        score(FORGET, observed("It erases parts of the cell state [1].")),  # 0.5
        score(FORGET, observed("", "abstained", cited=[], supported=[])),  # 0, refused
        score(FORGET, observed(DECLINED, "generative")),  # 0, the model's refusal
        score(NO_COVER, observed("", "abstained", cited=[], supported=[])),
        score(NO_COVER, observed("SPLADE is a sparse retriever [1].")),
    ]
    metrics = summarise(rows)
    assert metrics["counts"]["key_points_judged"] == 4
    assert metrics["key_points"] == {"all_covered": 0.25, "mean_recall": 0.375}
    assert metrics["answering"] == {
        "answered_share": 0.5,
        "refused_answerable": 0.5,
        "abstained_unanswerable": 0.5,
    }
    flat = flatten(metrics)
    assert flat["key_points.mean_recall"] == 0.375
    assert flat["answering.refused_answerable"] == 0.5


def test_metrics_without_their_questions_are_none() -> None:
    metrics = summarise([score(NO_COVER, observed("", "abstained", cited=[], supported=[]))])
    assert metrics["key_points"] == {"all_covered": None, "mean_recall": None}
    assert metrics["answering"]["answered_share"] is None
    assert metrics["answering"]["abstained_unanswerable"] == 1.0
    assert "key_points.all_covered" not in flatten(metrics)
