"""Step 1, retrieve: which questions are searched after the learner's turn before them."""

from __future__ import annotations

import pytest

from service.answering.retrieve import answer_topic, follows_up

# A collection of 200 chunks: a term in 16 or fewer (8%) names a subject of its own.
CHUNKS = 200
VOCABULARY = {
    "forget": 6,
    "gate": 14,
    "lstm": 9,
    "gru": 5,
    "sglang": 0,
    "paramet": 80,
    "tune": 25,
    "queri": 40,
    "time": 70,
    "model": 150,
    "attent": 60,
    "gpt": 30,
    "bpe": 8,
    "lower": 20,
    "loss": 45,
    "memori": 40,
    "alpha": 4,
    "qlora": 7,
    "lora": 12,
}


@pytest.mark.parametrize(
    "question",
    [
        "What does the forget gate in an LSTM do?",  # asked after a question about GRUs
        "What is a GRU?",
        "How does attention work in GPT?",  # a name, though many chunks hold it
        "What is the loss that GPT uses?",  # "that" opens a relative clause here
        "ok, what is a GRU?",  # an acknowledgement, then a new question
    ],
)
def test_a_question_with_a_subject_of_its_own_is_searched_alone(question: str) -> None:
    assert not follows_up(question, VOCABULARY, CHUNKS)


@pytest.mark.parametrize(
    "question",
    [
        "what does its forget gate do?",  # points back, though "forget" is rare
        "and how much memory does it take for llama 2 7b",
        "so is lower better?",
        "which parameter do i tune at query time?",  # everyday words of the subject only
        "does sglang do the same thing?",
        "what about GRUs?",
        "ok and what about GRUs?",
        "why does that help?",
        "how do i know if mine is working well",
        "what does the alpha do then",
    ],
)
def test_a_question_that_points_back_or_names_nothing_of_its_own_follows_up(
    question: str,
) -> None:
    assert follows_up(question, VOCABULARY, CHUNKS)


def test_an_unknown_term_is_no_subject_of_its_own() -> None:
    # The collection never mentions it: searched with the turn before, its silence is
    # noticed by the decide step on the same passages either way.
    assert follows_up("is sglang faster?", VOCABULARY, CHUNKS)
    assert not follows_up("is SGLang faster than BPE?", VOCABULARY, CHUNKS)


def test_a_small_collection_still_has_rare_terms() -> None:
    # 5% of 10 chunks is half a chunk: a term in one chunk is still the question's own.
    assert not follows_up("what does the forget gate do?", {"forget": 1, "gate": 3}, 10)


BEFORE = "how is qlora different from lora"


@pytest.mark.parametrize(
    ("question", "alone"),
    [
        ("what does the alpha do then", True),  # its own subject, in QLoRA's passages
        ("what about a GRU?", True),
        ("does it make generation faster too?", False),  # "it" is QLoRA
        ("and what does its forget gate do?", False),  # "its" stands for the earlier one
        ("which parameter do i tune then?", False),  # no subject of its own
        ("does sglang do the same?", False),
    ],
)
def test_a_follow_up_is_answered_for_its_own_subject_when_it_stands_for_no_earlier_one(
    question: str, alone: bool
) -> None:
    """Seen in the widget: "what does the alpha do then", asked after a question about
    QLoRA, quoted the QLoRA unit; the passages found with the turn before hold alpha's."""
    query = f"{BEFORE}\n{question}"
    assert follows_up(question, VOCABULARY, CHUNKS)
    topic = answer_topic(question, query, VOCABULARY, CHUNKS)
    assert topic == (question if alone else query)
    assert answer_topic(question, question, VOCABULARY, CHUNKS) == question  # searched alone
