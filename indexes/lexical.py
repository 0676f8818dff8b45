"""The BM25 index (bm25s), with English stemming and stop words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt

from indexes.files import mapped

BM25_DIR = "bm25"


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


# LaTeX as a learner types it: a command is its name, cut from what it touches
# ("\\nabla_\\theta" holds "nabla" and "theta"); a font command keeps its word
# ("\\mathrm{softmax}" is "softmax") or joins its letter ("\\mathbb{E}" is "e_mathbb",
# not "\\mathbb{R}").
_FONT_COMMAND = re.compile(r"\\(math[a-z]+|operatorname|text)\s*\{\s*([A-Za-z0-9]+)\s*\}")
_COMMAND = re.compile(r"\\([A-Za-z]+)")


def _font(match: re.Match[str]) -> str:
    command, inside = match.groups()
    # The letter first: the stemmer would cut an "e" from the end of "mathbb_e".
    return f" {inside.lower()}_{command} " if len(inside) == 1 else f" {inside} "


def latex_words(text: str) -> str:
    """``text`` with its LaTeX commands as words the tokenizer keeps."""
    if "\\" not in text:
        return text
    return _COMMAND.sub(r" \1 ", _FONT_COMMAND.sub(_font, text))


def _tokenize(texts: Sequence[str], *, as_strings: bool = False) -> Any:
    return bm25s.tokenize(
        [latex_words(t) for t in texts],
        stopwords="en",
        stemmer=_stemmer(),
        return_ids=not as_strings,
        show_progress=False,
    )


def _document_frequency(retriever: Any, vocab: dict[str, int]) -> dict[str, int]:
    scores = getattr(retriever, "scores", None)
    if not vocab or not isinstance(scores, dict) or "indptr" not in scores:
        return {}
    # bm25s keeps one column of the term-by-chunk matrix per term id.
    counts = np.diff(np.asarray(scores["indptr"]))
    return {t: int(counts[i]) for t, i in vocab.items() if t and i < len(counts)}


class LexicalIndex:
    """BM25 over the chunks' ``embed_text``, rows aligned with the FAISS rows."""

    def __init__(self, retriever: Any, size: int) -> None:
        self._retriever = retriever
        self._vocab: dict[str, int] = getattr(retriever, "vocab_dict", None) or {}
        self.size = size
        self.document_frequency = _document_frequency(retriever, self._vocab)
        """Stemmed term -> how many chunks hold it (the same English stemmer as
        ``service.text``): what the collection's materials mention, and how often."""

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        retriever = bm25s.BM25()
        if texts:
            retriever.index(_tokenize(texts), show_progress=False)
        return cls(retriever, len(texts))

    def save(self, directory: Path) -> None:
        target = directory / BM25_DIR
        target.mkdir()
        (target / "size").write_text(str(self.size), encoding="ascii")
        if self.size:
            self._retriever.save(str(target))

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        source = directory / BM25_DIR
        size = int((source / "size").read_text(encoding="ascii"))
        if size == 0:
            return cls(bm25s.BM25(), 0)
        whole = sum(p.stat().st_size for p in source.iterdir())
        return cls(bm25s.BM25.load(str(source), mmap=mapped(source, whole)), size)

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """The BM25 score of every chunk for ``query`` (zeros when no term is known)."""
        # Terms the corpus never saw cannot score; a query of only those scores nothing.
        tokens = [t for t in _tokenize([query], as_strings=True)[0] if t in self._vocab]
        if not tokens or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
