"""Structure-following chunking under the embedder's token budget.

Blocks of one section (same heading path and page) are split into
sentences, and sentences are packed greedily into chunks of at most
``chunk_tokens`` word pieces, counted with the embedder's own tokenizer and
including the title/heading prefix that is embedded with each chunk.  A new
chunk repeats the last sentences of the previous one, up to
``overlap_tokens``.  A chunk does not end on a sentence that leads into the
next one ("The parameter update is", "… directly to the weights:", a run-in label
such as "Epsilon."): it opens the next chunk instead.  A chunk that would open on
a sentence pointing back ("It computes the Adam update …") also takes the sentence
of its paragraph before it, the one that says what "It" is.  A sentence longer
than the budget is cut at word boundaries.  No chunk can exceed the model's
maximum sequence length, so nothing is silently truncated at embedding time.

A section is read, measured and packed as a stream, and the tokenizer is given a
bounded batch at a time (it grows with what it is given: a 20 MB one-line file
tokenised whole, then word by word, took 4 GB); the chunks are the same as if it
had been measured whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, groupby

from indexes import ChunkerParams
from ingest.documents import Block, Document
from ingest.sentences import iter_sentence_spans

TokenCounter = Callable[[Sequence[str]], list[int]]

_PREFIX_MAX_TOKENS = 48
_WORD = re.compile(r"\S+")
# The tokenizer is given at most this many texts, or characters, at once.
_COUNT_BATCH = 512
_COUNT_CHARS = 65_536
# A "sentence" this long (no full stop in 20,000 characters: a pasted log, a one-line
# file) is cut at words before it is measured; no ordinary sentence comes near it.
_LONG_UNIT_CHARS = 20_000
_LONG_WORD_CHARS = 2_000


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
    opens: bool = False  # the first sentence of its block


def _sentences(block: Block, index: int) -> Iterator[_Unit]:
    for start, end in iter_sentence_spans(block.text):
        yield _Unit(block.text[start:end], block.start, block.end, index, opens=start == 0)


def _measured(units: Iterable[_Unit], budget: int, count: TokenCounter) -> Iterator[_Unit]:
    """``units`` with their token counts, counted a batch at a time (the tokenizer's memory
    grows with what it is given at once); one over ``budget`` is cut into windows that
    fit, and one over ``_LONG_UNIT_CHARS`` is cut before it is measured."""
    batch: list[_Unit] = []
    chars = 0
    for unit in units:
        if len(unit.text) > _LONG_UNIT_CHARS:
            yield from _counted(batch, budget, count)
            batch, chars = [], 0
            yield from _split_long(unit, budget, count)
            continue
        batch.append(unit)
        chars += len(unit.text)
        if len(batch) >= _COUNT_BATCH or chars >= _COUNT_CHARS:
            yield from _counted(batch, budget, count)
            batch, chars = [], 0
    yield from _counted(batch, budget, count)


def _counted(batch: list[_Unit], budget: int, count: TokenCounter) -> Iterator[_Unit]:
    if not batch:
        return
    for unit, n in zip(batch, count([u.text for u in batch]), strict=True):
        sized = _Unit(unit.text, unit.start, unit.end, unit.block, n, unit.opens)
        if n > budget:
            yield from _split_long(sized, budget, count)
        else:
            yield sized


def _word_batches(text: str) -> Iterator[list[str]]:
    """The words of ``text`` in batches; a word over ``_LONG_WORD_CHARS`` (a base64 blob)
    keeps its head only, which is all a chunk keeps of it anyway."""
    batch: list[str] = []
    chars = 0
    for match in _WORD.finditer(text):
        batch.append(match.group()[:_LONG_WORD_CHARS])
        chars += len(batch[-1])
        if len(batch) >= _COUNT_BATCH or chars >= _COUNT_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _split_long(unit: _Unit, budget: int, count: TokenCounter) -> Iterator[_Unit]:
    """Cut a unit longer than ``budget`` into word windows that fit."""
    texts: list[str] = []
    chars = 0
    current: list[str] = []
    size = 0
    for words in _word_batches(unit.text):
        for word, n in zip(words, count(words), strict=True):
            if current and size + n > budget:
                texts.append(" ".join(current))
                chars += len(texts[-1])
                current, size = [], 0
                if len(texts) >= _COUNT_BATCH or chars >= _COUNT_CHARS:
                    yield from _windows(unit, texts, count)
                    texts, chars = [], 0
            if n > budget:  # one absurd "word" (a URL, a base64 blob): keep its head only
                word, n = word[: budget * 2], min(n, budget)
            current.append(word)
            size += n
    if current:
        texts.append(" ".join(current))
    yield from _windows(unit, texts, count)


def _windows(unit: _Unit, texts: list[str], count: TokenCounter) -> Iterator[_Unit]:
    if texts:
        for text, n in zip(texts, count(texts), strict=True):
            yield _Unit(text, unit.start, unit.end, unit.block, n)


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


# Words a sentence that runs on into the next one ends with ("The parameter update is").
_RUN_ON = frozenset(
    "a an the is are was were be as by of to for with and or in on at from than that "  # noqa: SIM905
    "which where whose follows below".split()
)
# Words that open a sentence pointing back at the one before ("It", "This", "Their").
_POINTING_BACK = frozenset(
    "it its they their them this these those such he she his her".split()  # noqa: SIM905
)
_LABEL_WORDS = 3  # a run-in label: "Epsilon.", "Bias correction."


def _leads_in(unit: _Unit, following: _Unit | None) -> bool:
    """Whether ``unit`` only introduces what follows it: it ends with a colon or a word
    that cannot end a sentence, or it is a short label opening its paragraph."""
    text = unit.text.rstrip()
    words = _WORD.findall(text)
    if not words:
        return False
    if text.endswith(":") or words[-1].lower() in _RUN_ON:
        return True
    label = unit.opens and len(words) <= _LABEL_WORDS and text.endswith(".")
    return label and following is not None and following.block == unit.block


def _points_back(unit: _Unit) -> bool:
    first = _WORD.match(unit.text)
    return first is not None and first.group().lower().strip("\"'(") in _POINTING_BACK


def _tokens(units: Sequence[_Unit]) -> int:
    return sum(u.tokens for u in units)


def _carried(current: list[_Unit], unit: _Unit, overlap: int) -> list[_Unit]:
    """The units of the full chunk ``current`` that the next chunk, opening before
    ``unit``, repeats: the last ones up to ``overlap`` tokens, and the sentence before a
    first one that points back (in the same paragraph)."""
    carried: list[_Unit] = []
    for previous in reversed(current[1:]):
        if _tokens(carried) + previous.tokens > overlap:
            break
        carried.insert(0, previous)
    opening = len(current) - len(carried)  # the index in ``current`` of carried[0]
    first = carried[0] if carried else unit
    if opening > 1 and _points_back(first) and current[opening - 1].block == first.block:
        carried.insert(0, current[opening - 1])
    return carried


def _pack(units: Iterable[_Unit], budget: int, overlap: int) -> Iterator[list[_Unit]]:
    """Greedy packing into chunks of at most ``budget`` tokens, each yielded once it is
    full; a chunk repeats the last units of the one before, up to ``overlap`` tokens
    (:func:`_carried`), and a full chunk's last units that lead into ``unit`` move to the
    next chunk (:func:`_leads_in`)."""
    current: list[_Unit] = []
    size = 0
    for unit in units:
        if current and size + unit.tokens > budget:
            following = [*current, unit]
            cut = len(current)
            while cut > 1 and _leads_in(current[cut - 1], following[cut]):
                cut -= 1
            full, leading = current[:cut], current[cut:]
            yield full
            current = [*_carried(full, leading[0] if leading else unit, overlap), *leading]
            while current and _tokens(current) + unit.tokens > budget:
                current.pop(0)  # the unit must fit: the oldest repeated ones go first
            size = _tokens(current)
        current.append(unit)
        size += unit.tokens
    if current:
        yield current


def chunk_document(document: Document, params: ChunkerParams, count: TokenCounter) -> list[Piece]:
    """Pack a document's blocks into pieces that each fit ``params.chunk_tokens``."""
    return list(chunked(document, params, count))


def chunked(document: Document, params: ChunkerParams, count: TokenCounter) -> Iterator[Piece]:
    """The pieces of :func:`chunk_document`, one at a time: a section is read, measured and
    packed as a stream, so memory follows the pieces made, not the section's size."""
    sections = groupby(enumerate(document.blocks), key=lambda ib: (ib[1].heading_path, ib[1].page))
    for (headings, page), members in sections:
        units = (u for index, block in members for u in _sentences(block, index))
        first = next(units, None)
        if first is None:
            continue
        prefix = context_prefix(document.title, headings)
        prefix_tokens = count([prefix])[0]
        if prefix_tokens > _PREFIX_MAX_TOKENS:
            prefix = " ".join(_WORD.findall(prefix)[: _PREFIX_MAX_TOKENS // 2])
            prefix_tokens = count([prefix])[0]
        budget = max(16, params.chunk_tokens - prefix_tokens)
        fitted = _measured(chain([first], units), budget, count)
        for group in _pack(fitted, budget, params.overlap_tokens):
            text = _join(group)
            yield Piece(
                text=text,
                embed_text=f"{prefix}\n{text}",
                heading_path=headings,
                page=page,
                start=min(u.start for u in group),
                end=max(u.end for u in group),
                n_tokens=prefix_tokens + sum(u.tokens for u in group),
            )
