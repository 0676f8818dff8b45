"""Step 5: fabricated answers are never marked supported, however close they read."""

from __future__ import annotations

import pytest

from service.answering.decide import terms
from service.answering.verify import GroundingChecker, unsupported_terms
from tests.conftest import FakeEmbedder

ADAM = (
    "Adam keeps an exponential moving average of the gradient and of its square. "
    "The defaults are beta1 = 0.9 and beta2 = 0.999. A 7B model needs 14 GB in fp16."
)
VOCABULARY = frozenset(terms(ADAM + " Dividing restores unit variance."))

FABRICATED = [
    # an invented name before pasted passage text
    "Lion keeps an exponential moving average of the gradient and of its square [1].",
    "The Lion optimiser keeps an exponential moving average of the gradient [1].",
    "AdaBelief keeps an exponential moving average of the gradient and of its square [1].",
    # a wrong number in an otherwise copied sentence
    "The defaults are beta1 = 0.8 and beta2 = 0.999 [1].",
    "A 7B model needs 28 GB in fp16 [1].",
    "A 13B model needs 14 GB in fp16 [1].",
    # an invented acronym
    "Adam keeps an exponential moving average of the gradient, like SGDR [1].",
]


@pytest.mark.parametrize("sentence", FABRICATED)
def test_a_fabricated_sentence_is_not_supported(sentence: str) -> None:
    verdict = GroundingChecker(FakeEmbedder(), 0.7).check(sentence, [ADAM], None, VOCABULARY)
    assert [s.supported for s in verdict.sentences] == [False]
    assert verdict.sentences[0].unsupported_terms


def test_a_faithful_paraphrase_is_supported_and_names_nothing_missing() -> None:
    answer = (
        "Adam keeps an exponential moving average of the gradient and of its square [1]. "
        "Its defaults are beta1 = 0.9 and beta2 = 0.999 [1]."
    )
    verdict = GroundingChecker(FakeEmbedder(), 0.7).check(answer, [ADAM], None, VOCABULARY)
    assert all(s.supported and not s.unsupported_terms for s in verdict.sentences)


def test_names_and_numbers_must_be_in_the_cited_passage_not_just_any_passage() -> None:
    other = "Lion uses the sign of the momentum."
    answer = "Lion keeps an exponential moving average of the gradient [1]."
    verdict = GroundingChecker(FakeEmbedder(), 0.7).check(answer, [ADAM, other], None, VOCABULARY)
    assert verdict.sentences[0].unsupported_terms == ("Lion",)


def test_a_capitalised_first_word_is_a_name_only_when_the_collection_does_not_know_it() -> None:
    assert unsupported_terms("Dividing restores unit variance.", ADAM, VOCABULARY) == []
    assert unsupported_terms("Sophia restores unit variance.", ADAM, VOCABULARY) == ["Sophia"]


SAMPLING = (
    "Top-k sampling keeps only the k most probable tokens (for example k = 40 or 50). "
    "Top-p sampling keeps the smallest set of tokens whose probabilities sum to p."
)
GRU = (
    "An LSTM has a forget gate that decides how much of the old cell state to keep. "
    "The GRU uses two gates. Reset gate: controls how much of the previous state is used "
    "when computing the candidate."
)


@pytest.mark.parametrize(
    ("answer", "passage", "swapped"),
    [
        ("Top-p sampling keeps only the k most probable tokens [1].", SAMPLING, "top p"),
        (
            "The forget gate controls how much of the previous state is used when "
            "computing the candidate [1].",
            GRU,
            "forget gate",
        ),
    ],
)
def test_a_copied_sentence_about_another_term_of_the_notes_is_not_supported(
    answer: str, passage: str, swapped: str
) -> None:
    """Misattribution: every word is in the passage, but the subject is the wrong one."""
    verdict = GroundingChecker(FakeEmbedder(), 0.7).check(answer, [passage], None, VOCABULARY)
    assert [s.supported for s in verdict.sentences] == [False]
    assert swapped in verdict.sentences[0].unsupported_terms


def test_a_sentence_that_names_its_subject_differently_is_not_a_swap() -> None:
    answer = "Adam divides each average by one minus beta to the power t [1]."
    passage = "Bias correction divides each average by one minus beta to the power t."
    verdict = GroundingChecker(FakeEmbedder(), 0.7).check(answer, [passage], None, VOCABULARY)
    assert verdict.sentences[0].unsupported_terms == ()
