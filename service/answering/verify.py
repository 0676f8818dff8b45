"""Step 5, verify: check an answer against its passages, sentence by sentence.

A sentence's support is the better of two views of the passages it cites
(or of all passages, when it cites none): the highest cosine similarity
between the sentence and any passage sentence, and the share of its
content words the passage contains.  The model is tiny; this check, not
the model, is what makes an answer grounded.  Similarity is not enough: a
sentence that names something, or states a number, that its passages do not
contain is not supported however close it reads ("The Lion optimiser keeps an
exponential moving average of the gradient [1]" over a passage about Adam).
Passage sentences that address the model (``service.answering.injection``) are
no evidence.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from indexes import Embedder
from ingest.sentences import split_sentences
from service.answering.injection import as_evidence
from service.text import CITATION, STOPWORDS, overlap, stem, strip_citations


@dataclass(frozen=True, slots=True)
class CheckedSentence:
    text: str
    citations: list[int]
    support: float
    supported: bool
    unsupported_terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    text: str
    sentences: list[CheckedSentence]

    @property
    def supported_ratio(self) -> float:
        if not self.sentences:
            return 0.0
        return sum(s.supported for s in self.sentences) / len(self.sentences)


def _keep_valid_citations(sentence: str, n_passages: int) -> tuple[str, list[int]]:
    """Citations to passages that do not exist are removed from the text."""
    valid: list[int] = []

    def rewrite(match: object) -> str:
        numbers = [int(n) for n in match.group(1).split(",")]  # type: ignore[attr-defined]
        kept = [n for n in numbers if 1 <= n <= n_passages]
        valid.extend(n for n in kept if n not in valid)
        return f" [{', '.join(map(str, kept))}]" if kept else ""

    return CITATION.sub(rewrite, sentence).strip(), valid


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_'-]*[A-Za-z0-9]|[A-Za-z]")
_FIRST_WORD = re.compile(r"^\W*([A-Za-z][\w'-]*)")


def _number_set(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def _looks_like_a_name(token: str, first: bool) -> bool:
    """Acronyms, CamelCase, words with digits, and capitalised words inside a sentence."""
    if any(c.isdigit() for c in token) or any(c.isupper() for c in token[1:]):
        return True
    return token[0].isupper() and not first


def unsupported_terms(sentence: str, evidence: str, vocabulary: Collection[str]) -> list[str]:
    """Numbers and names in ``sentence`` that ``evidence`` does not contain.

    A sentence's capitalised first word counts as a name when the collection's
    vocabulary (stemmed) does not know it: "Lion uses the sign of ..." names
    something, "Dividing by ..." does not.
    """
    text = strip_citations(sentence)
    found = sorted(_number_set(text) - _number_set(evidence))
    lowered = evidence.lower()
    first = _FIRST_WORD.match(text)
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        at_start = first is not None and match.start() == first.start(1)
        if at_start and token[0].isupper() and not any(c.isupper() for c in token[1:]):
            stemmed = stem(token.lower())
            if token.lower() in _FUNCTION_WORDS or not vocabulary or stemmed in vocabulary:
                continue
        elif not _looks_like_a_name(token, at_start):
            continue
        if token.lower() not in lowered and token not in found:
            found.append(token)
    return found


_WORD_PIECE = re.compile(r"[a-z0-9]+")
# A sentence that holds this share of its best passage sentence's words copies it.
_COPIED = 0.6


def _pairs(text: str) -> set[tuple[str, str]]:
    words = _WORD_PIECE.findall(strip_citations(text).lower())
    return set(itertools.pairwise(words))


def swapped_terms(sentence: str, source: str, known: set[tuple[str, str]]) -> list[str]:
    """Two-word terms of the passages (``known``: their word pairs) that ``sentence`` puts
    where the passage sentence it copies (``source``) has another sharing a word: "Top-p
    sampling keeps only the k most probable tokens" copied from "Top-k sampling keeps …",
    or "the forget gate controls …" from "Reset gate: controls …". The words are the
    passage's, so the support check passes them; the subject is another the notes
    describe elsewhere."""
    if overlap(sentence, source) < _COPIED:
        return []
    mine, theirs = _pairs(sentence), _pairs(source)
    only_mine = (mine - theirs) & known
    only_theirs = theirs - mine
    swapped = []
    for a, b in sorted(only_mine):
        if a in STOPWORDS or b in STOPWORDS:
            continue
        for c, d in only_theirs:
            if c in STOPWORDS or d in STOPWORDS:
                continue
            if (a == c and b != d) or (b == d and a != c):
                swapped.append(f"{a} {b}")
                break
    return swapped


# Sentence openers that name nothing, beside the stop words.
_FUNCTION_WORDS = STOPWORDS | frozenset(
    "while because since unlike like every either neither".split()  # noqa: SIM905
)


class GroundingChecker:
    """Scores answer sentences against numbered passages."""

    def __init__(self, embedder: Embedder, threshold: float) -> None:
        self._embedder = embedder
        self.threshold = threshold

    def check(
        self,
        answer: str,
        passages: Sequence[str],
        vectors: Embedder | None = None,
        vocabulary: Collection[str] = frozenset(),
    ) -> Verdict:
        """Verdict on each sentence of ``answer``; ``vectors`` embeds in place of the
        checker's embedder (one answer's :class:`SentenceVectors`); ``vocabulary`` is the
        collection's stemmed terms (:func:`unsupported_terms`)."""
        raw = [s for s in split_sentences(answer.strip()) if strip_citations(s)]
        if not raw or not passages:
            return Verdict("", [])
        cleaned = [_keep_valid_citations(s, len(passages)) for s in raw]
        # A sentence that tells the model what to say is not evidence of anything.
        passages = [as_evidence(p) for p in passages]
        passage_sentences = [split_sentences(p) or [p] for p in passages]
        flat = [s for group in passage_sentences for s in group]
        owner = np.repeat(np.arange(len(passages)), [len(g) for g in passage_sentences])
        embedded = (vectors or self._embedder).embed(
            [strip_citations(t) for t, _ in cleaned] + flat
        )
        claims, evidence = embedded[: len(cleaned)], embedded[len(cleaned) :]
        similarity = claims @ evidence.T
        known_pairs = _pairs("\n".join(passages))
        checked = []
        for row, (text, cites) in enumerate(cleaned):
            scope = [n - 1 for n in cites] or list(range(len(passages)))
            support_by_passage = {
                i: max(
                    float(similarity[row][owner == i].max()),
                    overlap(strip_citations(text), passages[i]),
                )
                for i in scope
            }
            best = max(support_by_passage, key=support_by_passage.__getitem__)
            support = round(support_by_passage[best], 4)
            foreign = unsupported_terms(text, "\n".join(passages[i] for i in scope), vocabulary)
            in_scope = np.flatnonzero(np.isin(owner, scope))
            copied = flat[int(in_scope[np.argmax(similarity[row][in_scope])])]
            foreign += [t for t in swapped_terms(text, copied, known_pairs) if t not in foreign]
            supported = support >= self.threshold and not foreign
            if not cites and supported:
                # An uncited but supported sentence gets the passage that supports it.
                text, cites = f"{text} [{best + 1}]", [best + 1]
            checked.append(CheckedSentence(text, cites, support, supported, tuple(foreign)))
        return Verdict(" ".join(c.text for c in checked), checked)
