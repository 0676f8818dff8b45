"""Sentence boundaries, shared by chunking and by answer grounding."""

from __future__ import annotations

import re

_ABBREVIATIONS = {"e.g", "i.e", "etc", "al", "vs", "fig", "eq", "sec", "cf", "approx", "dr", "mr"}
_BOUNDARY = re.compile(
    r"(?<=[.!?:;])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9$\\])|\n(?=\s*(?:[-*+]|\d+[.)])\s)"
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or list item in ``text``, whitespace trimmed."""
    spans, last = [], 0
    for match in [*_BOUNDARY.finditer(text), None]:
        cut = match.start() if match else len(text)
        word = text[last:cut].rstrip(".!?:;\"')] ").rsplit(" ", 1)[-1].lower()
        if match and word.rstrip(".") in _ABBREVIATIONS:
            continue  # "e.g. Adam" is not the end of a sentence
        piece = text[last:cut]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((last + lead, last + len(piece.rstrip())))
        last = match.end() if match else cut
    return spans


def split_sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]
