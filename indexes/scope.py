"""A scope: the part of a collection a question is about (a document, a folder, a section)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from indexes.records import Chunk


@dataclass(frozen=True, slots=True)
class Scope:
    """Chunks of the listed documents (by id or source), under a source folder, and/or
    under a heading path; every part given must hold. Headings compare case-blind."""

    documents: tuple[str, ...] = ()
    source_prefix: str | None = None
    heading_prefix: tuple[str, ...] = ()

    def holds(self, chunk: Chunk) -> bool:
        return self.admits(chunk.doc_id, chunk.source, chunk.heading_path)

    def admits(self, doc_id: str, source: str, heading_path: Sequence[str]) -> bool:
        if self.documents and doc_id not in self.documents and source not in self.documents:
            return False
        if self.source_prefix is not None and not source.startswith(self.source_prefix):
            return False
        wanted = [h.casefold() for h in self.heading_prefix]
        return [h.casefold() for h in heading_path[: len(wanted)]] == wanted

    def describe(self) -> str:
        parts = []
        if self.documents:
            parts.append("documents " + ", ".join(repr(d) for d in self.documents))
        if self.source_prefix is not None:
            parts.append(f"sources under {self.source_prefix!r}")
        if self.heading_prefix:
            parts.append("the section " + " > ".join(self.heading_prefix))
        return "; ".join(parts) or "the whole collection"
