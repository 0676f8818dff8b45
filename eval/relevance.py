"""Whether a retrieved or cited passage is relevant to an evaluation question.

A passage is relevant when its chunk id is one of the item's ``chunk_ids``;
else, when the item names ``sources``, when it comes from one of them; else
when it comes from the item's document (if it has one) and contains a gold
answer.  The *gold units* a recall counts are those chunk ids, those
sources, or the one answer the passages must hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from eval.datasets import Item
from eval.metrics import from_document, normalise


class Passage(Protocol):
    @property
    def chunk_id(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def text(self) -> str: ...


def is_relevant(passage: Passage, item: Item) -> bool:
    if item.chunk_ids:
        return passage.chunk_id in item.chunk_ids
    if item.sources:
        return any(from_document(passage.source, s) for s in item.sources)
    if item.document is not None and not from_document(passage.source, item.document):
        return False
    text = normalise(passage.text)
    return any(a in text for a in (normalise(g) for g in item.answers) if a)


def gold_units(item: Item) -> int:
    """How many distinct things a perfect retrieval would find."""
    return len(item.chunk_ids) or len(item.sources) or 1


def units_found(passages: Sequence[Passage], item: Item) -> int:
    """Distinct gold units among ``passages``."""
    relevant = [p for p in passages if is_relevant(p, item)]
    if item.chunk_ids:
        return len({p.chunk_id for p in relevant})
    if item.sources:
        return sum(any(from_document(p.source, s) for p in relevant) for s in item.sources)
    return int(bool(relevant))
