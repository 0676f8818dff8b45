"""Plain records that cross the index boundary."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage of a document, the unit that is embedded and retrieved.

    ``start``/``end`` are character offsets in the document's source text
    (the raw file for Markdown and text, the extracted text for HTML and PDF).
    ``embed_text`` is what the embedder and BM25 see: the passage prefixed by
    its title and heading path, so that a passage about "the update rule"
    still matches a question about Adam.
    """

    id: str
    doc_id: str
    text: str
    embed_text: str
    title: str
    source: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    start: int = 0
    end: int = 0
    n_tokens: int = 0


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """What the index remembers of an ingested document."""

    doc_id: str
    path: str
    source: str
    title: str
    sha256: str
    root: str
    n_chunks: int
    ingested_at: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result with the scores that ranked it.

    ``dense_score`` is the cosine similarity, ``lexical_score`` the BM25
    score (``None`` when that retriever did not return the chunk) and
    ``score`` the fused reciprocal-rank score used for ordering.
    """

    chunk: Chunk
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None
    opens_section: bool = False  # the first chunk of its section (heading path and page)
