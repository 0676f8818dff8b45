"""Ingestion: files in, a new index version out.

``loaders`` turn files into :class:`Document` blocks (in a worker process with a time
and memory budget: ``parsing``), ``chunking`` packs them into passages under the
embedder's token budget, and ``pipeline`` embeds what changed and hands it to
:class:`indexes.IndexWriter`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ingest.documents import Block, Document, LoadError

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport, Pipeline

__all__ = ["Block", "Document", "IngestReport", "LoadError", "Pipeline"]


def __getattr__(name: str) -> Any:
    # The pipeline (numpy and FAISS behind it) loads on first use, so that the parse
    # worker, which needs only the loaders, starts in tens of ms and small.
    if name in ("IngestReport", "Pipeline"):
        from ingest import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
