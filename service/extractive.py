"""Extractive answers: the passage sentences that best answer the question, each cited.

Sentences that address the model (``service.injection``) are never quoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexes import Embedder
from ingest.sentences import split_sentences
from service.injection import addresses_the_model
from service.text import overlap

# A second sentence joins the answer only if it is nearly as good as the first.
_SECOND_SENTENCE_RATIO = 0.85
_LEXICAL_WEIGHT = 0.3
_MAX_SENTENCE_CHARS = 600


@dataclass(frozen=True, slots=True)
class Extract:
    text: str
    passage: int  # 1-based, as cited
    score: float


def _candidates(passages: Sequence[str]) -> list[tuple[int, str]]:
    """(passage number, sentence) pairs; a sentence that overlapping chunks share is kept
    once, with the best-ranked passage that holds it."""
    seen: set[str] = set()
    found = []
    for n, passage in enumerate(passages, start=1):
        for sentence in split_sentences(passage):
            key = " ".join(sentence.split()).lower()
            if (
                len(sentence.split()) >= 3
                and len(sentence) <= _MAX_SENTENCE_CHARS
                and key not in seen
                and not addresses_the_model(sentence)
            ):
                seen.add(key)
                found.append((n, sentence))
    return found


def best_sentences(
    embedder: Embedder,
    question: str,
    passages: Sequence[str],
    *,
    max_sentences: int = 2,
    question_vector: np.ndarray | None = None,
) -> list[Extract]:
    """Sentences of ``passages`` ranked by similarity to ``question``, best first."""
    candidates = _candidates(passages)
    if not candidates:
        return []
    vectors = embedder.embed([s for _, s in candidates])
    if question_vector is None:
        question_vector = embedder.embed([question])[0]
    dense = vectors @ question_vector
    scored = sorted(
        (
            Extract(s, n, float(d) + _LEXICAL_WEIGHT * overlap(question, s))
            for (n, s), d in zip(candidates, dense, strict=True)
        ),
        key=lambda e: -e.score,
    )
    chosen = [scored[0]]
    for extract in scored[1:max_sentences]:
        if extract.score >= _SECOND_SENTENCE_RATIO * scored[0].score:
            chosen.append(extract)
    return chosen


def compose(extracts: Sequence[Extract]) -> str:
    """The extracts as one answer, in passage order, each followed by its citation."""
    ordered = sorted(extracts, key=lambda e: (e.passage, -e.score))
    return " ".join(f"{e.text.rstrip()} [{e.passage}]" for e in ordered)
