"""The vectors of the sentences one answer works with, each text embedded once.

An extractive answer ranks the passages' sentences, then the grounding check
compares the answer's sentences (which are passage sentences) with the same
passages' sentences again: without a memo, every sentence was embedded twice,
half of the service's CPU under load (BENCHMARKS.md, "Profiles").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from indexes import Embedder


class SentenceVectors:
    """An :class:`Embedder` that remembers the vectors it returned, for one answer.

    Only texts it has not seen are sent to the model, in one call.  It is not
    shared between answers, so it holds no more than a few hundred sentences.
    """

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._known: dict[str, npt.NDArray[np.float32]] = {}

    @property
    def name(self) -> str:
        return self._embedder.name

    @property
    def backend(self) -> str:
        return self._embedder.backend

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    @property
    def max_tokens(self) -> int:
        return self._embedder.max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._embedder.count_tokens(texts)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._known))
        if missing:
            for text, vector in zip(missing, self._embedder.embed(missing), strict=True):
                self._known[text] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._known[t] for t in texts])
