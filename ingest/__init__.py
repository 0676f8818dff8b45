"""Ingestion: files in, a new index version out.

``loaders`` turn files into :class:`Document` blocks, ``chunking`` packs
them into passages under the embedder's token budget, and ``pipeline``
embeds what changed and hands it to :class:`indexes.IndexWriter`.
"""

from ingest.documents import Block, Document, LoadError
from ingest.pipeline import IngestReport, Pipeline

__all__ = ["Block", "Document", "IngestReport", "LoadError", "Pipeline"]
