"""Hits and retrievals built by hand, for the answering steps' unit tests."""

from __future__ import annotations

from indexes import Chunk, Hit
from service.answering.retrieve import Retrieval
from service.answering.terms import terms


def hit(text: str, heading: str = "Notes", score: float = 0.6, source: str = "notes.md") -> Hit:
    chunk = Chunk(
        id=f"{source}-{abs(hash(text)) % 10_000}",
        doc_id=source,
        source=source,
        title=heading,
        text=text,
        embed_text=text,
        heading_path=(heading,),
    )
    return Hit(chunk=chunk, score=score, dense_score=score, lexical_score=None)


def retrieval(*texts: str, elsewhere: str = "", score: float = 0.6) -> Retrieval:
    """Passages ``texts``; the collection also mentions the words of ``elsewhere``."""
    vocabulary = {t: 1 for text in (*texts, elsewhere) for t in terms(text)}
    return Retrieval([hit(t, score=score) for t in texts], vocabulary)
