"""A LlamaIndex retriever over Syllabus (``pip install 'syllabus[llamaindex]'``).

    from integrations.llamaindex import SyllabusRetriever

    retriever = SyllabusRetriever.from_url("http://localhost:8000", similarity_top_k=4)
    retriever = SyllabusRetriever.from_index(collection="default")   # in process
    nodes = retriever.retrieve("What does the forget gate in an LSTM do?")

Each passage is a ``NodeWithScore`` holding a ``TextNode`` whose ``id_`` is the
chunk id; its score is Syllabus's fused score (the order), and its metadata holds
``source``, ``title``, ``page``, ``heading_path``, ``chunk_id``, ``score``,
``dense_score`` (cosine) and ``lexical_score`` (BM25).  A model that answers from
the nodes sees where each passage comes from, not the ids and scores.
"""

from __future__ import annotations

from pathlib import Path

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from indexes import IndexReader
from integrations.client import HttpSearcher, Searcher, local_searcher, metadata
from service.schemas import SearchHit

# Bookkeeping a language model or an embedder has no use for.
_HIDDEN = ("chunk_id", "score", "dense_score", "lexical_score")


def as_node(hit: SearchHit) -> NodeWithScore:
    meta = metadata(hit)
    hidden = [*_HIDDEN, *(key for key, value in meta.items() if value is None)]
    node = TextNode(
        id_=hit.chunk_id,
        text=hit.text,
        metadata=meta,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=hidden,
    )
    return NodeWithScore(node=node, score=hit.score)


class SyllabusRetriever(BaseRetriever):
    """Syllabus's hybrid (dense + BM25) search as a LlamaIndex retriever."""

    def __init__(
        self,
        searcher: Searcher,
        *,
        similarity_top_k: int = 5,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        if not 1 <= similarity_top_k <= 50:
            raise ValueError(f"similarity_top_k must be 1-50, not {similarity_top_k}")
        self.searcher = searcher
        self.similarity_top_k = similarity_top_k
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        collection: str | None = None,
        api_key: str | None = None,
        similarity_top_k: int = 5,
    ) -> SyllabusRetriever:
        """Search a running service (``url`` is its root, as ``http://host:8000``)."""
        searcher = HttpSearcher(url, collection=collection, api_key=api_key)
        return cls(searcher, similarity_top_k=similarity_top_k)

    @classmethod
    def from_index(
        cls,
        index: IndexReader | Path | str | None = None,
        *,
        collection: str | None = None,
        similarity_top_k: int = 5,
    ) -> SyllabusRetriever:
        """Search in process: an open reader, an index directory, or a collection by name."""
        searcher = local_searcher(index, collection=collection)
        return cls(searcher, similarity_top_k=similarity_top_k)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.searcher.search(query_bundle.query_str, self.similarity_top_k)
        return [as_node(hit) for hit in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = await self.searcher.asearch(query_bundle.query_str, self.similarity_top_k)
        return [as_node(hit) for hit in hits]
