"""Structure-following chunking under the embedder's token budget.

Blocks of one section (same heading path and page) are split into
sentences, and sentences are packed greedily into chunks of at most
``chunk_tokens`` word pieces, counted with the embedder's own tokenizer and
including the title/heading prefix that is embedded with each chunk.  A new
chunk repeats the last sentences of the previous one, up to
``overlap_tokens``.  A sentence longer than the budget is cut at word
boundaries.  No chunk can exceed the model's maximum sequence length, so
nothing is silently truncated at embedding time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby

from indexes import ChunkerParams
from ingest.documents import Block, Document
from ingest.sentences import split_sentences

TokenCounter = Callable[[Sequence[str]], list[int]]

_PREFIX_MAX_TOKENS = 48
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Piece:
    """A chunk before it has an id: its text, where it came from, and its size."""

    text: str
    embed_text: str
    heading_path: tuple[str, ...]
    page: int | None
    start: int
    end: int
    n_tokens: int


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str
    start: int
    end: int
    block: int
    tokens: int = 0


def _sentences(block: Block, index: int) -> list[_Unit]:
    return [_Unit(text, block.start, block.end, index) for text in split_sentences(block.text)]


def _split_long(unit: _Unit, budget: int, count: TokenCounter) -> list[_Unit]:
    """Cut a unit longer than ``budget`` into word windows that fit."""
    words = _WORD.findall(unit.text)
    tokens = count(words)
    parts: list[list[str]] = []
    current: list[str] = []
    size = 0
    for word, n in zip(words, tokens, strict=True):
        if current and size + n > budget:
            parts.append(current)
            current, size = [], 0
        if n > budget:  # one absurd "word" (a URL, a base64 blob): keep its head only
            word, n = word[: budget * 2], min(n, budget)
        current.append(word)
        size += n
    if current:
        parts.append(current)
    texts = [" ".join(p) for p in parts]
    return [
        _Unit(t, unit.start, unit.end, unit.block, n)
        for t, n in zip(texts, count(texts), strict=True)
    ]


def context_prefix(title: str, headings: tuple[str, ...]) -> str:
    """'Title > Section > Subsection', without repeating a heading equal to the title."""
    trail = [h for h in headings if h and h != title]
    return " > ".join([title, *trail])


def _join(units: Sequence[_Unit]) -> str:
    parts = []
    for previous, unit in zip([None, *units], units, strict=False):
        if previous is not None:
            parts.append("\n\n" if previous.block != unit.block else " ")
        parts.append(unit.text)
    return "".join(parts)


def _pack(units: list[_Unit], budget: int, overlap: int) -> list[list[_Unit]]:
    chunks: list[list[_Unit]] = []
    current: list[_Unit] = []
    size = 0
    for unit in units:
        if current and size + unit.tokens > budget:
            chunks.append(current)
            carried: list[_Unit] = []
            for previous in reversed(current[1:]):
                if sum(u.tokens for u in carried) + previous.tokens > overlap:
                    break
                carried.insert(0, previous)
            while carried and sum(u.tokens for u in carried) + unit.tokens > budget:
                carried.pop(0)
            current, size = carried, sum(u.tokens for u in carried)
        current.append(unit)
        size += unit.tokens
    if current:
        chunks.append(current)
    return chunks


def chunk_document(document: Document, params: ChunkerParams, count: TokenCounter) -> list[Piece]:
    """Pack a document's blocks into pieces that each fit ``params.chunk_tokens``."""
    pieces: list[Piece] = []
    sections = groupby(enumerate(document.blocks), key=lambda ib: (ib[1].heading_path, ib[1].page))
    for (headings, page), members in sections:
        units = [u for index, block in members for u in _sentences(block, index)]
        if not units:
            continue
        prefix = context_prefix(document.title, headings)
        prefix_tokens = count([prefix])[0]
        if prefix_tokens > _PREFIX_MAX_TOKENS:
            prefix = " ".join(_WORD.findall(prefix)[: _PREFIX_MAX_TOKENS // 2])
            prefix_tokens = count([prefix])[0]
        budget = max(16, params.chunk_tokens - prefix_tokens)
        sized = [
            _Unit(u.text, u.start, u.end, u.block, n)
            for u, n in zip(units, count([u.text for u in units]), strict=True)
        ]
        fitted = [part for u in sized for part in (_split_long(u, budget, count)
                  if u.tokens > budget else [u])]  # fmt: skip
        for group in _pack(fitted, budget, params.overlap_tokens):
            text = _join(group)
            pieces.append(
                Piece(
                    text=text,
                    embed_text=f"{prefix}\n{text}",
                    heading_path=headings,
                    page=page,
                    start=min(u.start for u in group),
                    end=max(u.end for u in group),
                    n_tokens=prefix_tokens + sum(u.tokens for u in group),
                )
            )
    return pieces
