"""A formula an answer restates with the notes' symbols must keep the notes' grouping."""

from __future__ import annotations

from service.answering.formulas import regrouped
from tests.paths import DEMO_CORPUS

CROSS_ENTROPY = (
    "Binary cross-entropy for a sigmoid output $p$ and label $y$ is "
    "$-[y \\log p + (1-y)\\log(1-p)]$."
)
ATTENTION = (
    "$\\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\left(\\frac{QK^T}{\\sqrt{d_k}}\\right) V$"
)
DERIVATIVE = "$f'(x) = \\lim_{h \\to 0} \\frac{f(x + h) - f(x)}{h}$"


def test_a_bracket_dropped_from_the_notes_formula_is_found() -> None:
    """Seen in the widget, marked supported: binary cross-entropy with Unicode minus
    signs, "-y log p + (1-y) log(1-p)": the second term's sign turned round."""
    said = "Binary cross-entropy is \u2212y log p + (1\u2212y) log(1\u2212p)."
    assert regrouped(said, CROSS_ENTROPY) == ["- y log p + ( 1 - y ) log ( 1 - p )"]
    assert regrouped("Attention is softmax(QK^T)/sqrt(d_k) V.", ATTENTION)
    assert regrouped("The derivative is the limit of f(x+h) - f(x)/h.", DERIVATIVE)


def test_the_notes_formula_in_other_notation_or_in_part_is_not_found() -> None:
    for said, notes in (
        ("It is $-[y \\log p + (1-y)\\log(1-p)]$.", CROSS_ENTROPY),
        ("BCE = -(y log p + (1 - y) log(1 - p)).", CROSS_ENTROPY),
        ("The second term is (1-y) log(1-p), for the negative label.", CROSS_ENTROPY),
        ("Attention is softmax(QK^T / sqrt(d_k)) V.", ATTENTION),
        ("Attention(Q, K, V) = softmax(QK^T/\u221ad_k)V", ATTENTION),
        ("f'(x) is the limit of (f(x+h) - f(x))/h as h goes to 0.", DERIVATIVE),
    ):
        assert regrouped(said, notes) == [], said


def test_a_formula_the_notes_do_not_hold_is_left_to_the_other_checks() -> None:
    assert regrouped("Mean squared error is (y - p)^2 averaged.", CROSS_ENTROPY) == []
    assert regrouped("Top-k keeps k tokens, top-p a mass p.", CROSS_ENTROPY) == []


def test_every_formula_of_the_course_notes_restates_itself() -> None:
    for path in sorted(DEMO_CORPUS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            assert regrouped(line, text) == [], (path.name, line)
