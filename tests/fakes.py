"""A deterministic fake embedder for fast tests of logic; retrieval quality is tested
with the real model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """Hashes words into a small vector: deterministic, instant, and counts its batches.

    Texts sharing words get similar vectors, which is enough to test logic;
    retrieval quality is tested with the real model.
    """

    name = "fake-hashing-embedder"
    backend = "fake"
    dimension = 512
    max_tokens = 254

    def __init__(self) -> None:
        self.batches = 0
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.batches += 1
        self.embedded += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % self.dimension
                out[row, bucket] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) + t.count(".") for t in texts]
