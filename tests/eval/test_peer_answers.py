"""The answer comparison with the stock chains: what counts as a peer declining, the table."""

from __future__ import annotations

import pytest

from eval.bench.peer_answers import declines, markdown


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know.",
        "",
        "The context does not mention AdaBelief, so I cannot say how it differs from Adam.",
        "There is no information about GPTQ in the provided text.",
        "I cannot answer this question based on the passages.",
        "I apologize, but I'm not sure what you're asking about.",
    ],
)
def test_a_stock_chain_that_says_it_cannot_answer_has_abstained(answer: str) -> None:
    assert declines(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "MMLU has 57 subjects.",
        "BERT does not replace every chosen token with [MASK], because [MASK] never appears "
        "during fine-tuning. The context of each token stays visible.",
        "AdaBelief is a variant of Adam. It does not know the gradient's sign in advance.",
    ],
)
def test_an_answer_is_not_a_refusal_because_it_holds_a_negation(answer: str) -> None:
    assert not declines(answer)


def test_the_table_shows_every_system_and_a_dash_where_a_figure_does_not_apply() -> None:
    row = {
        "questions": 2,
        "key_points_all": 0.5,
        "key_points_recall": 0.75,
        "f1": None,
        "covered_refused": 0.0,
        "uncovered_abstained": 1.0,
        "invented": 0.25,
        "first_content_p50_ms": 120.4,
        "total_p50_ms": 6100.0,
    }
    table = markdown({"syllabus": row, "langchain": row | {"first_content_p50_ms": 6100.0}})
    lines = table.splitlines()
    assert lines[2] == ("| syllabus | 2 | 0.500 | 0.750 | - | 0.000 | 1.000 | 0.250 | 120 | 6100 |")
    assert lines[3].startswith("| langchain | 2 |")
