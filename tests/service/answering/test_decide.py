"""Step 2: abstaining when the question is off-topic or its subject is absent."""

from __future__ import annotations

from service.answering.decide import absent_terms, decide
from service.answering.terms import terms
from tests.service.answering.helpers import retrieval

ADAM = "The Adam optimizer keeps moving averages of gradients and squared gradients."
# What the rest of a course's notes would mention.
COURSE = (
    "Averages start at zero, so never skip bias correction early; the intuition behind it "
    "is simple. A big vocabulary "
    "helps instead of raw counts. Learning rates differ, and the difference matters."
)
RARE = {"colbert", "splade", "adabelief", "qlora"}  # split into several word pieces


def common(word: str) -> bool:
    return word not in RARE


def test_an_off_topic_question_is_abstained_below_the_threshold() -> None:
    decision = decide("who won the world cup?", retrieval(ADAM, score=0.1), 0.27, common)
    assert decision.abstain and "below the threshold 0.27" in decision.reason


def test_a_question_about_something_the_collection_never_mentions_is_abstained() -> None:
    decision = decide("How does the Lion optimizer work?", retrieval(ADAM), 0.27, common)
    assert decision.abstain and decision.reason == 'the materials never mention "lion"'


def test_a_rare_term_absent_from_the_passages_is_abstained_even_if_mentioned_elsewhere() -> None:
    found = retrieval(ADAM, elsewhere=f"{COURSE} ColBERT is a late-interaction retriever.")
    assert absent_terms("is colbert better than adam?", found, common) == ["colbert"]


def test_everyday_words_framing_and_typos_do_not_silence_a_covered_question() -> None:
    found = retrieval(ADAM, elsewhere=COURSE)
    for question in (
        "explain the intuition behind adam bias correction",
        "whats the diffrence between adam and gradients?",  # misspelt framing word
        "why does adam keep moving averages instead of raw gradients?",  # words used elsewhere
        "what do the averages in adam start at, and why cant it skip correction?",
        "what percentage of gradients does adam average?",  # the kind of answer asked for
        "ok and how does adam keep its averages?",  # what a learner says in passing
        "thanks! hmm, why does adam keep moving averages?",
    ):
        assert not decide(question, found, 0.27, common).abstain, question


def test_abbreviations_compounds_and_notations_count_as_known_terms() -> None:
    found = retrieval(
        "The vocabulary of GPT-2 has 50,257 entries, stored in 4-bit; d_k is the key size.",
        elsewhere=f"{COURSE} Batch norm and layer norm differ.",
    )
    for question in (
        "how big is the gpt2 vocab",
        "what is dk",
        "batchnorm vs layer norm",
        "how is the vocab stored in 4-bit?",  # "in 4" is no term "in4"
    ):
        assert absent_terms(question, found, common) == [], question


def test_terms_stem_like_the_lexical_index_and_drop_framing_words() -> None:
    assert set(terms("Explain the forget gates of an LSTM")) == {"forget", "gate", "lstm"}
