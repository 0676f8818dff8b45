"""BM25 matches the LaTeX a learner types."""

from __future__ import annotations

import numpy as np
import pytest

from indexes.lexical import LexicalIndex

CHUNKS = [
    "The gradient $\\nabla_\\theta L$ points uphill; descent steps against it.",
    "The expectation $\\mathbb{E}[X]$ averages X over its distribution.",
    "Weights live in $\\mathbb{R}^{d \\times d}$, a space of real matrices.",
    "Attention weights are $\\mathrm{softmax}(QK^T / \\sqrt{d_k})$.",
]


@pytest.mark.parametrize(
    ("query", "best"),
    [("\\nabla", 0), ("what is \\mathbb{E}", 1), ("\\mathbb{R}", 2), ("softmax of scores", 3)],
)
def test_a_latex_command_finds_the_chunk_that_uses_it(query: str, best: int) -> None:
    scores = LexicalIndex.build(CHUNKS).scores(query)
    assert int(np.argmax(scores)) == best
    assert scores[best] > max(np.delete(scores, best))  # and not a tie with another
