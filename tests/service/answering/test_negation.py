"""A copied sentence that reverses its passage sentence with the passage's own words."""

from __future__ import annotations

import pytest

from service.answering.negation import flipped_comparison, flipped_negation, negated_verb

MERGE = "Keeping adapters separate instead allows hot-swapping many tasks on one base."
GRU = "The GRU needs no separate cell state."


@pytest.mark.parametrize(
    ("sentence", "source"),
    [
        # a negation put in (the demo's merge answer), in two wordings
        ("Keep adapters separate instead of allowing hot-swapping [1].", MERGE),
        ("Keeping adapters separate does not allow hot-swapping [1].", MERGE),
        (
            "Batch norm doesn't work well with small batches.",
            "Batch norm works well with small batches.",
        ),
        ("A GRU cannot be trained in parallel.", "A GRU can be trained in parallel."),
        # a negation left out
        ("The GRU needs a separate cell state [1].", GRU),
        (
            "Batch norm works well with small batches.",
            "Batch norm does not work well with small batches.",
        ),
        (
            "The merged model has extra latency, and works in any stack.",
            "The merged model has no extra latency, and works in any stack.",
        ),
        (
            "A reward model is only a proxy for what people want.",
            "A reward model is not only a proxy for what people want.",
        ),
    ],
)
def test_a_reversed_claim_is_found(sentence: str, source: str) -> None:
    assert flipped_negation(sentence, source)


@pytest.mark.parametrize(
    ("sentence", "source"),
    [
        (MERGE, MERGE),
        ("Keeping adapters separate allows hot-swapping many tasks [1].", MERGE),
        # the same polarity, worded otherwise
        ("The GRU does not need a separate cell state [1].", GRU),
        (
            "Dense retrieval matches meaning, not exact words.",
            "Dense retrieval matches meaning rather than exact words.",
        ),
        (
            "Vanishing gradients cannot be fixed by clipping.",
            "Clipping does not fix vanishing gradients.",
        ),
        ("It is not only fast but also small.", "It is fast and small."),
        # more changes than polarity: not this check's to judge
        (
            "LoRA does not train the base weights.",
            "LoRA trains A and B; the base weights are frozen.",
        ),
        ("QLoRA keeps the base model in 4-bit.", "QLoRA does not keep the base model in 16-bit."),
        # a decimal point ends no clause
        (
            "At T = 1 the probabilities are about (0.67, 0.24).",
            "At T = 1 the probabilities are about (0.67, 0.24).",
        ),
    ],
)
def test_a_sentence_of_the_same_polarity_is_not_flagged(sentence: str, source: str) -> None:
    assert flipped_negation(sentence, source) is None


def test_the_finding_shows_both_wordings() -> None:
    found = flipped_negation("Keep adapters separate instead of allowing hot-swapping [1].", MERGE)
    assert found == '"instead of allowing" (the notes: "instead allows")'


@pytest.mark.parametrize(
    ("sentence", "flagged"),
    [
        ("When T < 1, it gets sharper, making unlikely tokens more likely [1].", '"T < 1"'),
        ("With $T \\leq 1$ it flattens, making unlikely tokens more likely.", '"T < 1"'),
        ("When T > 1, it flattens, making unlikely tokens more likely [1].", None),
        ("T < 1 sharpens it [1].", None),  # the clause it copies says T < 1
        ("T < 1 sharpens it and T > 1 makes unlikely tokens more likely.", None),
    ],
)
def test_a_clause_copied_with_its_bound_turned_round_is_found(
    sentence: str, flagged: str | None
) -> None:
    source = (
        "- T < 1 sharpens it; as T approaches 0 it becomes greedy. - T > 1 flattens it, "
        "making unlikely tokens more likely."
    )
    found = flipped_comparison(sentence, source)
    assert (found or "").startswith(flagged or "") and (found is None) == (flagged is None)


SCHEDULE = (
    "- Because the decay is multiplied by the learning rate in most implementations, "
    "changing the learning rate schedule also changes the effective regularisation."
)


@pytest.mark.parametrize(
    ("sentence", "said"),
    [
        # seen in the widget, marked supported ("What does AdamW do differently?")
        (
            "AdamW decouples the weight decay from the learning rate, which means that "
            "changing the learning rate schedule does not affect the effective "
            "regularisation [2].",
            '"does not affect" (the notes: "also changes")',
        ),
        # seen on the learner dev set
        (
            "This allows the learning rate schedule to change without changing the "
            "effective regularisation [1].",
            '"to change without" (the notes: "also")',
        ),
    ],
)
def test_a_negated_verb_between_the_passages_words_is_found(sentence: str, said: str) -> None:
    assert negated_verb(sentence, SCHEDULE) == said


@pytest.mark.parametrize(
    ("sentence", "source"),
    [
        (
            "Changing the learning rate schedule also changes the effective regularisation.",
            SCHEDULE,
        ),
        # the passage's clause already says something negative
        (
            "LoRA does not update the base weights during training.",
            "LoRA keeps the base weights frozen during training.",
        ),
        (
            "The merged adapter does not add latency at inference.",
            "The merged adapter adds zero latency at inference.",
        ),
        (
            "The attention output does not depend on the batch size at all.",
            "The attention output is independent of the batch size at all.",
        ),
        # a negation beside the passage's words, not in place of its verb
        (
            "Dense retrieval is not weak on meaning: it matches paraphrase well.",
            "Dense retrieval matches meaning and paraphrase well.",
        ),
    ],
)
def test_a_negation_that_keeps_the_passages_polarity_is_no_negated_verb(
    sentence: str, source: str
) -> None:
    assert negated_verb(sentence, source) is None
