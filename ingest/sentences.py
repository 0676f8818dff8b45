"""Sentence boundaries, shared by chunking and by answer grounding."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from itertools import chain

_ABBREVIATIONS = {"e.g", "i.e", "etc", "al", "vs", "fig", "eq", "sec", "cf", "approx", "dr", "mr"}
_LONGEST_ABBREVIATION = max(map(len, _ABBREVIATIONS))
_BOUNDARY = re.compile(
    r"(?<=[.!?:;])(?P<closing>[\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9$\\])"  # after a full stop
    r"|\n(?=\s*(?:[-*+]|\d+[.)])\s)"  # before a list item
    r"|(?<=\\\]|\$\$)[ \t]*\n\s*"  # after a display formula that ends a line
)
_LIST_NUMBER = re.compile(r"\s*\d+[.)]")
_CLOSING = frozenset(".!?:;\"')] ")  # what a sentence may end with after its last word
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


def iter_sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence or list item in ``text``, whitespace trimmed, one at a
    time and in one pass: a 20 MB paragraph of sentences costs no more than its spans.

    A boundary never falls inside a formula, and a list item's number stays with it."""
    formulas = math_spans(text)
    starts = [start for start, _ in formulas]
    last = 0
    for match in chain(_BOUNDARY.finditer(text), (None,)):
        cut = _end_of_sentence(match) if match else len(text)
        if match and (
            _ends_with_abbreviation(text, last, cut)  # "e.g. Adam" is not a sentence's end
            or _LIST_NUMBER.fullmatch(text, last, cut)  # "1. Load the base model"
            or _inside(formulas, starts, cut)  # "$$ a. B $$"
        ):
            continue
        piece = text[last:cut]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            yield last + lead, last + len(piece.rstrip())
        last = match.end() if match else cut


def _end_of_sentence(boundary: re.Match[str]) -> int:
    """Where the sentence before ``boundary`` ends: after the marks that close it, so
    "(the idea is the same.)" keeps its parenthesis."""
    closing = boundary.end("closing")
    return closing if closing >= 0 else boundary.start()


def _ends_with_abbreviation(text: str, start: int, end: int) -> bool:
    """Whether the last word of ``text[start:end]``, closing punctuation aside, is an
    abbreviation; looked at from its end, so a boundary costs the same however long the
    sentence before it has grown."""
    while end > start and text[end - 1] in _CLOSING:
        end -= 1
    begin = max(start, end - _LONGEST_ABBREVIATION)
    space = text.rfind(" ", begin, end)
    if space >= 0:
        begin = space + 1
    elif begin > start:
        return False  # a last word longer than any abbreviation
    return text[begin:end].lower() in _ABBREVIATIONS


def _inside(formulas: list[tuple[int, int]], starts: list[int], cut: int) -> bool:
    """Whether ``cut`` falls strictly inside a formula (sorted, disjoint spans)."""
    last = bisect_left(starts, cut) - 1  # the last formula that starts before the cut
    return last >= 0 and cut < formulas[last][1]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or list item in ``text``, whitespace trimmed."""
    return list(iter_sentence_spans(text))


def split_sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in iter_sentence_spans(text)]
