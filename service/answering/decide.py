"""Step 2, decide: answer, or say that the materials do not cover the question.

Two signals, both calibrated on the dev sets (BENCHMARKS.md, "Abstention"):

- *off-topic*: the closest passage is not similar enough to the question
  (dense cosine below the collection's threshold);
- *silence*: the passages are on-topic, but the question names something the
  collection never mentions ("How does the Lion optimiser work?" over notes
  that only teach Adam), or a distinctive term that none of its passages hold.
  Any word the whole collection never uses counts (a course's notes use the
  everyday words of their subject). A word the collection uses elsewhere
  counts only when it is distinctive: written as a name (capitalised inside
  the question, an acronym, with digits) or a rare word (the embedder's
  vocabulary splits it into several pieces: "colbert", "adabelief").
  Words that merely frame a question ("explain", "difference", "intuition")
  are not its subject, and a misspelt word that is one letter or two from a
  known term counts as that term, so "diffrence" does not silence a good
  question; nor does an abbreviation ("vocab") or a compound ("batchnorm") of
  known terms. Short words (under six letters) and names are never taken for
  misspellings ("lion" is not "union").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from service.answering.prompt import sanitize
from service.answering.retrieve import Retrieval
from service.answering.terms import TERM, framing, terms, written_as_name

_JOINED = re.compile(r"\b([a-z]+)[-\s]?(\d+)\b")
_TYPO_SIMILARITY = 0.8
_TYPO_MIN_LETTERS = 6


def _spellings(text: str) -> dict[str, str]:
    """A passage's terms, and the other ways a learner may write them: "d_k" also as
    "dk", "LLaMA 2" also as "llama2"."""
    lowered = text.lower()
    words = [w.replace("_", "") for w in TERM.findall(lowered) if "_" in w]
    words += [a + b for a, b in _JOINED.findall(lowered)]
    return {**terms(text), **terms(" ".join(words))}


def _compound_of(stem: str, known: frozenset[str] | set[str]) -> bool:
    """ "batchnorm" when "batch" and "norm" are known; "vocab" or "param" when a known
    term starts with it."""
    if len(stem) >= _TYPO_MIN_LETTERS - 2 and any(k.startswith(stem) for k in known):
        return True
    return any(stem[:i] in known and stem[i:] in known for i in range(3, len(stem) - 2))


@dataclass(frozen=True, slots=True)
class Decision:
    abstain: bool
    reason: str


def _close_to_any(stem: str, known: Iterable[str]) -> bool:
    return bool(difflib.get_close_matches(stem, list(known), n=1, cutoff=_TYPO_SIMILARITY))


def _may_be_a_typo(word: str, question: str) -> bool:
    """Long lower-case words may be misspelt; names are typed on purpose."""
    return (
        len(word) >= _TYPO_MIN_LETTERS
        and re.search(rf"\b{re.escape(word)}\b", question) is not None
    )


def _distinctive(word: str, question: str, common: Callable[[str], bool]) -> bool:
    return written_as_name(word, question) or not common(word)


def absent_terms(
    question: str, retrieval: Retrieval, common: Callable[[str], bool], *, task: bool = False
) -> list[str]:
    """Words of ``question`` that its collection never mentions, and distinctive words
    that its passages do not; a misspelling of a known term is not absent. ``common``
    tells an everyday word from a rare one. A ``task`` (an exercise to solve, teaching
    mode guide) states its own data ("after 100 steps", "everywhere"): there only a
    distinctive word that is not a number can be absent."""
    question = sanitize(question)
    wanted = terms(question)
    if task:
        wanted = {
            stem: word
            for stem, word in wanted.items()
            if not any(c.isdigit() for c in word) and _distinctive(word, question, common)
        }
    in_passages: set[str] = set()
    for passage in retrieval.passages:
        in_passages.update(_spellings(passage))
    known = in_passages | set(retrieval.vocabulary)
    absent = []
    for stem, word in wanted.items():
        if stem in in_passages:
            continue
        if stem in known:  # mentioned elsewhere in the collection
            if _distinctive(word, question, common) and not _compound_of(stem, in_passages):
                absent.append(word)
        elif not _compound_of(stem, known) and not (
            _may_be_a_typo(word, question) and _close_to_any(stem, known | framing())
        ):
            absent.append(word)
    return absent


def decide(
    question: str,
    retrieval: Retrieval,
    threshold: float,
    common: Callable[[str], bool],
    *,
    task: bool = False,
) -> Decision:
    """Whether to answer ``question`` from ``retrieval``, and why (``task``: see
    :func:`absent_terms`)."""
    best = retrieval.best_score
    if best is None:
        return Decision(True, "no passage found")
    if best < threshold:
        return Decision(
            True, f"best passage similarity {best:.2f} is below the threshold {threshold:.2f}"
        )
    absent = absent_terms(question, retrieval, common, task=task)
    if absent:
        named = ", ".join(f'"{w}"' for w in absent)
        return Decision(True, f"the materials never mention {named}")
    return Decision(False, f"best passage similarity {best:.2f}; the question's terms occur")
