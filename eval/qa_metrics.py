"""Answer metrics: pure functions over predicted answers, gold answers and abstentions.

Answers are compared SQuAD-style: lower case, punctuation and the articles
*a*, *an*, *the* removed, whitespace collapsed.  ``[n]`` citation markers
are stripped first, since the service cites every sentence.  A question with
several gold answers scores its best match.

A key point (a short phrase a good answer must make) is covered when every
content word of it (stemmed, stopwords removed: :func:`service.text.content_words`)
is among the answer's, so "the softmax saturates" covers "softmax saturation";
a point made only of stopwords must appear as a normalised substring.

Abstention is scored as a binary classifier whose positive class is
*should abstain* (SQuAD 2.0's ``is_impossible``): precision is the share of
abstentions that were right, recall the share of unanswerable questions that
were abstained on.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from service.text import content_words, strip_citations

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalise_answer(text: str) -> str:
    """SQuAD normalisation: lower, no punctuation, no articles, single spaces."""
    text = strip_citations(text).lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    predicted = normalise_answer(prediction)
    return float(any(predicted == normalise_answer(g) for g in golds))


def _f1(predicted: list[str], gold: list[str]) -> float:
    common = sum((Counter(predicted) & Counter(gold)).values())
    if not predicted or not gold:
        return float(predicted == gold)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """Best token-overlap F1 of the prediction against any gold answer (0.0 for none)."""
    predicted = normalise_answer(prediction).split()
    return max((_f1(predicted, normalise_answer(g).split()) for g in golds), default=0.0)


def contains_gold(prediction: str, golds: Sequence[str]) -> bool:
    """Whether the normalised prediction contains a (non-empty) normalised gold answer."""
    predicted = f" {normalise_answer(prediction)} "
    normalised = (normalise_answer(g) for g in golds)
    return any(f" {g} " in predicted for g in normalised if g)


def key_point_covered(point: str, answer: str) -> bool:
    """Whether ``answer`` (citations ignored) makes the key point ``point``."""
    answer = strip_citations(answer)
    wanted = content_words(point)
    if not wanted:
        normalised = normalise_answer(point)
        return bool(normalised) and f" {normalised} " in f" {normalise_answer(answer)} "
    return wanted <= content_words(answer)


@dataclass(frozen=True, slots=True)
class Abstention:
    """Abstention scored against ``is_impossible``, and the answerable questions kept."""

    precision: float
    recall: float
    f1: float
    answered_share: float  # of the answerable questions, the share not abstained on
    abstained: int
    unanswerable: int


def abstention(should_abstain: Sequence[bool], abstained: Sequence[bool]) -> Abstention:
    """Precision, recall and F1 of abstaining (positive = should abstain)."""
    if len(should_abstain) != len(abstained):
        raise ValueError("one abstention decision per question is needed")
    pairs = list(zip(should_abstain, abstained, strict=True))
    true_positive = sum(s and a for s, a in pairs)
    n_abstained = sum(abstained)
    n_unanswerable = sum(should_abstain)
    n_answerable = len(pairs) - n_unanswerable
    precision = true_positive / n_abstained if n_abstained else 0.0
    recall = true_positive / n_unanswerable if n_unanswerable else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    kept = sum(not s and not a for s, a in pairs)
    answered = kept / n_answerable if n_answerable else 0.0
    return Abstention(precision, recall, f1, answered, n_abstained, n_unanswerable)


@dataclass(frozen=True, slots=True)
class ThresholdRow:
    """Abstaining below ``threshold``: how well that separates the two kinds of question."""

    threshold: float
    scores: Abstention


def sweep(
    best_scores: Sequence[float], should_abstain: Sequence[bool], thresholds: Sequence[float]
) -> list[ThresholdRow]:
    """Abstention metrics when abstaining on every best score below each threshold."""
    return [
        ThresholdRow(t, abstention(should_abstain, [s < t for s in best_scores]))
        for t in thresholds
    ]


def choose_threshold(rows: Sequence[ThresholdRow], min_answered: float) -> ThresholdRow:
    """The row with the best abstention F1 among those answering ``min_answered`` of the
    answerable questions; ties go to the lower threshold (fewer refusals)."""
    allowed = [r for r in rows if r.scores.answered_share >= min_answered]
    if not allowed:
        raise ValueError(f"no threshold answers {min_answered:.0%} of the answerable questions")
    return max(allowed, key=lambda r: (round(r.scores.f1, 12), -r.threshold))


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean, 0.0 for no values."""
    return sum(values) / len(values) if values else 0.0


def squad_v2_scores(prediction: str, golds: Sequence[str]) -> tuple[float, float]:
    """Exact match and F1 as SQuAD 2.0 scores them: with no gold answer, only an empty
    prediction (an abstention) is right."""
    if not any(normalise_answer(g) for g in golds):
        right = float(not normalise_answer(prediction))
        return right, right
    return exact_match(prediction, golds), token_f1(prediction, golds)
