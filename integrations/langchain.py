"""A LangChain retriever over Syllabus (``pip install 'syllabus[langchain]'``).

    from integrations.langchain import SyllabusRetriever

    retriever = SyllabusRetriever.from_url("http://localhost:8000", k=4)  # a running service
    retriever = SyllabusRetriever.from_index(collection="default")        # an index, in process
    docs = retriever.invoke("What does the forget gate in an LSTM do?")

Each passage is a ``Document`` whose ``id`` is the chunk id and whose metadata
holds ``source``, ``title``, ``page``, ``heading_path``, ``chunk_id`` and the
scores that ranked it: ``score`` (fused, the order), ``dense_score`` (cosine)
and ``lexical_score`` (BM25).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field

from indexes import IndexReader
from integrations.client import HttpSearcher, Searcher, local_searcher, metadata
from service.schemas import SearchHit


def as_document(hit: SearchHit) -> Document:
    return Document(page_content=hit.text, id=hit.chunk_id, metadata=metadata(hit))


class SyllabusRetriever(BaseRetriever):
    """Syllabus's hybrid (dense + BM25) search as a LangChain retriever."""

    searcher: Searcher
    k: int = Field(5, ge=1, le=50, description="Passages returned per query.")

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        collection: str | None = None,
        api_key: str | None = None,
        k: int = 5,
        **kwargs: Any,
    ) -> SyllabusRetriever:
        """Search a running service (``url`` is its root, as ``http://host:8000``)."""
        searcher = HttpSearcher(url, collection=collection, api_key=api_key)
        return cls(searcher=searcher, k=k, **kwargs)

    @classmethod
    def from_index(
        cls,
        index: IndexReader | Path | str | None = None,
        *,
        collection: str | None = None,
        k: int = 5,
        **kwargs: Any,
    ) -> SyllabusRetriever:
        """Search in process: an open reader, an index directory, or a collection by name."""
        return cls(searcher=local_searcher(index, collection=collection), k=k, **kwargs)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [as_document(hit) for hit in self.searcher.search(query, self.k)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [as_document(hit) for hit in await self.searcher.asearch(query, self.k)]
