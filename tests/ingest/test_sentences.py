"""Sentence boundaries: where chunks and answer sentences may be cut."""

from __future__ import annotations

import time

import pytest

from ingest.sentences import math_spans, split_sentences


def test_a_boundary_follows_a_full_stop_before_a_capital_but_not_an_abbreviation() -> None:
    text = "Adam keeps two averages, e.g. Momentum and RMS. Bias correction fixes the start."
    assert split_sentences(text) == [
        "Adam keeps two averages, e.g. Momentum and RMS.",
        "Bias correction fixes the start.",
    ]


def test_a_sentence_keeps_the_marks_that_close_it() -> None:
    """The quoted answer for "LSTM vs GRU" on the demo page opened "(Some references swap
    the roles …; the idea is the same." with no closing parenthesis."""
    text = '(Both forms are used; the idea is the same.) A GRU is smaller. It said "stop." So.'
    assert split_sentences(text) == [
        "(Both forms are used; the idea is the same.)",
        "A GRU is smaller.",
        'It said "stop."',
        "So.",
    ]


def test_a_numbered_list_item_keeps_its_number() -> None:
    text = "Follow these steps:\n1. Load the base model in bf16.\n2) Merge the adapter."
    assert split_sentences(text) == [
        "Follow these steps:",
        "1. Load the base model in bf16.",
        "2) Merge the adapter.",
    ]


def test_a_display_formula_that_ends_a_line_ends_its_sentence() -> None:
    text = "The formula is:\n\\[ a = \\mathrm{softmax}(x) v \\]\nThis scales the scores."
    assert split_sentences(text) == [
        "The formula is:",
        "\\[ a = \\mathrm{softmax}(x) v \\]",
        "This scales the scores.",
    ]


def test_a_code_block_is_not_cut_at_its_blank_lines() -> None:
    """Chunks join sentences with a space; a cut here would put ``def`` on the import line."""
    code = "import torch, math\n\n\ndef attention(q, k, v):\n    return q @ k.T"
    assert split_sentences(code) == [code]


@pytest.mark.parametrize(
    "text",
    [
        "$$\nx = 1. Then\ny = 2.\n$$",
        "\\[ p = 0.5. A \\]",
        "\\(a. B\\)",
        "$p(x). Q(x)$",
    ],
)
def test_no_boundary_falls_inside_a_formula(text: str) -> None:
    assert split_sentences(f"Here. {text} is it.") == ["Here.", f"{text} is it."]


@pytest.mark.parametrize(
    ("text", "formulas"),
    [
        ("$a+b$ and $c$", ["$a+b$", "$c$"]),
        ("costs $20,000 and $30,000 in all", []),  # prices
        ("Top-p costs $5. Then $x. Y$ is math.", ["$x. Y$"]),
        ("set $PATH and $HOME first", []),
        ("$$\\sum_i x_i$$ then \\$5", ["$$\\sum_i x_i$$"]),
        ("$$ open\n\nclosed later $$", []),  # no formula across a blank line
    ],
)
def test_formulas_are_found_as_pandoc_reads_dollars(text: str, formulas: list[str]) -> None:
    assert [text[a:b] for a, b in math_spans(text)] == formulas


def test_unclosed_delimiters_are_found_in_linear_time() -> None:
    hostile = "\\[" * 20_000 + "a. B" * 1_000 + "$$" * 10_001
    started = time.perf_counter()
    split_sentences(hostile)
    # Not a speed goal: a hang guard. Scanning to the end for each opener took 12 s.
    assert time.perf_counter() - started < 5.0
