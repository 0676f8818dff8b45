"""The prompt: worked examples in ``short`` sit between the system message and the
conversation, in the same form as the real question, and never teach invention."""

from __future__ import annotations

import re

import pytest

from service.answering.prompt import (
    EXAMPLES,
    REFUSAL,
    SYSTEM,
    Example,
    build_messages,
    is_refusal,
    without_trailing_refusal,
    without_unfinished_end,
)
from service.generation.base import Message

PASSAGES = [(1, "corpus/adam.md", "Adam keeps two running averages for every parameter.")]
HISTORY = [
    Message("user", "what is adam"),
    Message("assistant", "Adam keeps two running averages. [1]"),
]


def test_short_shows_its_examples_before_the_conversation_and_the_question() -> None:
    messages = build_messages("why bias correction", PASSAGES, HISTORY, style="short")
    examples = 2 * len(EXAMPLES["short"])
    assert messages[0] == Message("system", SYSTEM["short"])
    assert [m.role for m in messages[1 : 1 + examples]] == ["user", "assistant"] * (examples // 2)
    assert messages[1 + examples : -1] == HISTORY
    question = messages[-1]
    assert question.role == "user"
    assert question.content.endswith("Student's question: why bias correction")
    assert '<passage n="1" source="corpus/adam.md">' in question.content
    assert "lightship" not in question.content  # the examples' notes are not the real ones


def test_an_example_turn_has_the_form_of_the_real_one() -> None:
    real = build_messages("q", PASSAGES, style="short")[-1].content
    shown = build_messages("q", PASSAGES, style="short")[1].content
    form = re.compile(
        r'^Course notes:\n\n(<passage n="\d" source="[^"]+">\n.+?\n</passage>\s*)+'
        r"Student's question: .+$",
        re.DOTALL,
    )
    assert form.match(real) and form.match(shown)


def test_explain_has_no_examples() -> None:
    messages = build_messages("why bias correction", PASSAGES, HISTORY, style="explain")
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]


@pytest.mark.parametrize("example", EXAMPLES["short"], ids=lambda e: e.question)
def test_an_example_answer_is_its_notes_own_words_or_the_refusal(example: Example) -> None:
    if example.answer == REFUSAL:
        assert is_refusal(example.answer)
        return
    cited_span = re.fullmatch(r"(.+) \[(\d)\]", example.answer)
    assert cited_span, f"{example.answer!r} is not a span with its citation"
    span, cited = cited_span.groups()
    source, text = example.notes[int(cited) - 1]
    assert span in text, f"{span!r} is not in {source}"


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        ("Decoding reads every weight. [1]\n\nNOT COVERED", "Decoding reads every weight. [1]"),
        ("Top-p keeps the nucleus. [2] Not covered.", "Top-p keeps the nucleus. [2]"),
        ("NOT COVERED", "NOT COVERED"),
        ("Say NOT COVERED when unsure.", "Say NOT COVERED when unsure."),
    ],
)
def test_a_refusal_the_model_ends_an_answer_with_is_dropped(answer: str, kept: str) -> None:
    assert without_trailing_refusal(answer) == kept


def test_an_answer_cut_off_loses_its_unfinished_sentence_and_a_bare_item_number() -> None:
    cut = "Adam divides by one minus beta to the power t [1]. At \\( x = 1"
    assert without_unfinished_end(cut) == "Adam divides by one minus beta to the power t [1]."
    steps = "1. Load the base in bf16. [1] 2. Merge the adapter. [1]"
    assert without_unfinished_end(f"{steps} 5.") == steps
    figure = "The usual rank is 8."
    assert without_unfinished_end(figure) == figure  # a sentence that ends on a number stays
