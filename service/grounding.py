"""Verifying an answer against its passages, sentence by sentence.

A sentence's support is the better of two views of the passages it cites
(or of all passages, when it cites none): the highest cosine similarity
between the sentence and any passage sentence, and the share of its
content words the passage contains.  The model is tiny; this check, not
the model, is what makes an answer grounded.  Passage sentences that address
the model (``service.injection``) are no evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexes import Embedder
from ingest.sentences import split_sentences
from service.injection import as_evidence
from service.text import CITATION, overlap, strip_citations


@dataclass(frozen=True, slots=True)
class CheckedSentence:
    text: str
    citations: list[int]
    support: float
    supported: bool


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


class GroundingChecker:
    """Scores answer sentences against numbered passages."""

    def __init__(self, embedder: Embedder, threshold: float) -> None:
        self._embedder = embedder
        self.threshold = threshold

    def check(
        self, answer: str, passages: Sequence[str], vectors: Embedder | None = None
    ) -> Verdict:
        """Verdict on each sentence of ``answer``; ``vectors`` embeds in place of the
        checker's embedder (one answer's :class:`SentenceVectors`)."""
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
            supported = support >= self.threshold
            if not cites and supported:
                # An uncited but supported sentence gets the passage that supports it.
                text, cites = f"{text} [{best + 1}]", [best + 1]
            checked.append(CheckedSentence(text, cites, support, supported))
        return Verdict(" ".join(c.text for c in checked), checked)
