"""Answer metrics on hand-computed cases."""

from __future__ import annotations

import pytest

from eval.qa_metrics import (
    abstention,
    choose_threshold,
    contains_gold,
    exact_match,
    key_point_covered,
    mean,
    normalise_answer,
    squad_v2_scores,
    strip_citations,
    sweep,
    token_f1,
)


def test_normalisation_drops_case_punctuation_articles_and_citations() -> None:
    assert normalise_answer("The  Normans, of Normandy! [1]") == "normans of normandy"
    assert normalise_answer("An apple and a pear [1, 2].") == "apple and pear"
    assert normalise_answer("theory") == "theory"  # 'the' only as a whole word
    assert strip_citations("Paris [2]. Lyon [1,3]") == "Paris. Lyon"


def test_exact_match_takes_the_best_gold_answer() -> None:
    assert exact_match("the Normans [1]", ["Vikings", "Normans"]) == 1.0
    assert exact_match("Normans of France", ["Normans"]) == 0.0
    assert exact_match("anything", []) == 0.0


def test_token_f1_on_partial_overlap() -> None:
    # prediction: normans came from normandy (4 tokens); gold: normandy (1 token)
    # common 1 -> precision 1/4, recall 1 -> F1 = 2 * 0.25 / 1.25 = 0.4
    assert token_f1("The Normans came from Normandy.", ["Normandy"]) == pytest.approx(0.4)
    # best of two golds: "came from normandy" (3 tokens): common 3 of 4 and 3 of 3
    # -> precision 3/4, recall 1 -> F1 = 1.5 / 1.75
    both = token_f1("Normans came from Normandy", ["Normandy", "came from Normandy"])
    assert both == pytest.approx(1.5 / 1.75)
    assert token_f1("", ["x"]) == 0.0
    assert token_f1("x", []) == 0.0


def test_token_f1_counts_repeated_tokens_once_per_occurrence() -> None:
    # prediction x x y (3 tokens), gold x y y (3): common min(2,1) + min(1,2) = 2 -> P = R = 2/3
    assert token_f1("x x y", ["x y y"]) == pytest.approx(2 / 3)


def test_contains_gold_matches_whole_words_after_normalisation() -> None:
    golds = ["the Black Death", "plague"]
    assert contains_gold("It was called Black Death [2].", golds)
    assert not contains_gold("Plagues spread.", golds)  # 'plagues' is not 'plague'
    assert not contains_gold("anything", [""])


def test_abstention_precision_recall_and_answered_share() -> None:
    should = [True, True, False, False, False]
    did = [True, False, True, False, False]
    # 2 abstentions, 1 right: precision 1/2; 2 unanswerable, 1 caught: recall 1/2
    # answerable 3, abstained on 1 of them: answered share 2/3
    scores = abstention(should, did)
    assert (scores.precision, scores.recall, scores.f1) == (0.5, 0.5, 0.5)
    assert scores.answered_share == pytest.approx(2 / 3)
    assert (scores.abstained, scores.unanswerable) == (2, 2)
    none = abstention([True, False], [False, False])
    assert (none.precision, none.recall, none.f1, none.answered_share) == (0, 0, 0, 1)
    with pytest.raises(ValueError):
        abstention([True], [])


def test_sweep_abstains_strictly_below_the_threshold() -> None:
    best = [0.1, 0.3, 0.5, 0.7]
    should = [True, True, False, False]
    rows = sweep(best, should, [0.0, 0.3, 0.31, 0.6])
    assert [r.scores.abstained for r in rows] == [0, 1, 2, 3]
    assert rows[2].scores.f1 == 1.0 and rows[2].scores.answered_share == 1.0
    assert rows[3].scores.answered_share == 0.5


def test_choose_threshold_respects_the_answered_floor_and_prefers_lower_ties() -> None:
    rows = sweep([0.1, 0.3, 0.5, 0.7], [True, True, False, False], [0.0, 0.2, 0.31, 0.4, 0.6])
    assert choose_threshold(rows, 0.9).threshold == 0.31  # 0.31 and 0.4 tie at F1 1
    assert choose_threshold(rows, 0.5).threshold == 0.31
    with pytest.raises(ValueError):
        choose_threshold(rows[4:], 0.9)


def test_mean_of_nothing_is_zero() -> None:
    assert mean([]) == 0.0
    assert mean([1.0, 2.0]) == 1.5


def test_squad_v2_scores_a_no_answer_question_right_only_when_abstained() -> None:
    assert squad_v2_scores("", []) == (1.0, 1.0)
    assert squad_v2_scores("Paris [1].", []) == (0.0, 0.0)
    assert squad_v2_scores("", ["Paris"]) == (0.0, 0.0)
    em, f1 = squad_v2_scores("It is Paris [1].", ["Paris"])
    assert em == 0.0
    assert f1 == pytest.approx(2 * (1 / 3) / (1 + 1 / 3))  # it is paris vs paris: P 1/3, R 1


@pytest.mark.parametrize(
    ("point", "answer", "covered"),
    [
        ("softmax saturation", "The softmax saturates [1].", True),  # stems agree
        ("variance d_k", "The dot product has variance d_k [1].", True),
        ("variance d_k", "The variance grows [1].", False),  # d and k are missing
        ("keys and values", "It caches values and keys [2].", True),  # order, stopwords aside
        ("12 heads", "BERT-base has heads [12].", False),  # a citation is not a number
        ("12 heads", "BERT-base has 12 heads [1].", True),
        ("not", "It is not differentiable [1].", True),  # only stopwords: a substring
        ("not", "It is differentiable [1].", False),
        ("the", "The model.", False),  # nothing left to look for
    ],
)
def test_key_point_is_covered_when_all_its_content_words_are(
    point: str, answer: str, covered: bool
) -> None:
    assert key_point_covered(point, answer) is covered
