"""Small text helpers shared by grounding and extraction: content words and citations."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

WORD = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")
CITATION = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
STOPWORDS = frozenset(
    """
    a an the and or but if then else of to in on at by for with from as is are was were be
    been being it its this that these those there their they them he she we you i me my our
    your what which who whom whose when where why how do does did done can could should
    would may might will shall not no nor so than too very just also only such into over
    under about between each other some any all both more most less few many much one ones
    has have had having
    """.split()  # noqa: SIM905 - a word list reads best as text
)


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """The English stem of one lower-cased word, as the BM25 index stems it."""
    return str(_stemmer().stemWord(word))


def stem_words(words: Sequence[str]) -> list[str]:
    return list(_stemmer().stemWords(list(words)))


def content_words(text: str) -> set[str]:
    """Stemmed, lower-cased words of ``text`` that carry meaning."""
    words = [w.lower() for w in WORD.findall(text)]
    return set(_stemmer().stemWords([w for w in words if w not in STOPWORDS]))


def overlap(claim: str, evidence: str) -> float:
    """Share of the claim's content words that the evidence contains (1.0 for none)."""
    words = content_words(claim)
    if not words:
        return 1.0
    return len(words & content_words(evidence)) / len(words)


def _content_sequence(text: str) -> list[str]:
    words = [w.lower() for w in WORD.findall(text)]
    return list(_stemmer().stemWords([w for w in words if w not in STOPWORDS]))


def phrase_overlap(claim: str, evidence: str) -> float:
    """Share of the claim's two-word phrases (neighbouring content words) that the
    evidence has side by side too (0.0 for a claim of fewer than two content words)."""
    wanted = set(itertools.pairwise(_content_sequence(claim)))
    if not wanted:
        return 0.0
    return len(wanted & set(itertools.pairwise(_content_sequence(evidence)))) / len(wanted)


def strip_citations(sentence: str) -> str:
    """``sentence`` without its ``[n]`` or ``[n, m]`` markers."""
    return CITATION.sub("", sentence).strip()


# A sentence that leans on the one before it ("This is catastrophic forgetting.",
# "Because of that, ...", "It keeps ...") needs that one to be understood.
_LEANS_BACK = re.compile(
    r"^(?:this|that|these|those|such|it|its|they|their|both|so|thus|hence|therefore|instead|"
    r"otherwise|then|here|without it|with it|as a result|because of th(?:is|at))\b",
    re.IGNORECASE,
)


def continues(piece: str) -> bool:
    """Starts in lower case: the rest of the sentence before ("with k = 60 as ...")."""
    return piece.lstrip()[:1].islower()


def leans_back(piece: str) -> bool:
    """Needs the sentence before it to be understood."""
    return continues(piece) or bool(_LEANS_BACK.match(piece.lstrip()))
