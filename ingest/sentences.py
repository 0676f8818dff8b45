"""Sentence boundaries, shared by chunking and by answer grounding."""

from __future__ import annotations

import re

_ABBREVIATIONS = {"e.g", "i.e", "etc", "al", "vs", "fig", "eq", "sec", "cf", "approx", "dr", "mr"}
_BOUNDARY = re.compile(
    r"(?<=[.!?:;])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9$\\])"  # after a full stop
    r"|\n(?=\s*(?:[-*+]|\d+[.)])\s)"  # before a list item
    r"|(?<=\\\]|\$\$)[ \t]*\n\s*"  # after a display formula that ends a line
)
_LIST_NUMBER = re.compile(r"\s*\d+[.)]")
_DELIMITER = re.compile(r"\\\$|\$\$|\\[\[\]()]|\$|\n[ \t]*\n|\n")
_CLOSER = {"$$": "$$", "\\[": "\\]", "\\(": "\\)", "$": "$"}


def math_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each formula in ``text``, delimiters included: ``$$…$$``,
    ``\\[…\\]``, ``\\(…\\)`` and ``$…$``, none across a blank line. As in Pandoc, an
    inline ``$`` opens before a non-space and closes after one, not before a digit, and
    ends at the line's end: "costs $5 and $6" holds no formula, and "$5 for $x$" one, at
    the second ``$``. One pass, linear."""
    spans: list[tuple[int, int]] = []
    opened, start = "", 0
    for match in _DELIMITER.finditer(text):
        token, at, end = match.group(), match.start(), match.end()
        after = text[end : end + 1]
        if token == "\\$":
            continue
        if token.startswith("\n"):
            if token.count("\n") > 1 or opened == "$":
                opened = ""
        elif not opened:
            if token in _CLOSER and (token != "$" or (after and not after.isspace())):
                opened, start = token, at
        elif token == _CLOSER[opened] and (
            token != "$" or (not text[at - 1].isspace() and not after.isdigit())
        ):
            spans.append((start, end))
            opened = ""
        elif opened == "$" == token and after and not after.isspace():
            start = at  # "$5 … $x$": the first was a price, this one opens
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or list item in ``text``, whitespace trimmed.

    A boundary never falls inside a formula, and a list item's number stays with it."""
    spans, last = [], 0
    formulas = math_spans(text)
    for match in [*_BOUNDARY.finditer(text), None]:
        cut = match.start() if match else len(text)
        piece = text[last:cut]
        if match:
            word = piece.rstrip(".!?:;\"')] ").rsplit(" ", 1)[-1].lower()
            if word.rstrip(".") in _ABBREVIATIONS:
                continue  # "e.g. Adam" is not the end of a sentence
            if _LIST_NUMBER.fullmatch(piece) or any(a < cut < b for a, b in formulas):
                continue  # "1. Load the base model", "$$ a. B $$"
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((last + lead, last + len(piece.rstrip())))
        last = match.end() if match else cut
    return spans


def split_sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]
