"""The LlamaIndex retriever over a real index and a real service, in a query engine, and
LlamaIndex's OpenAI-compatible LLM talking to Syllabus."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode
from llama_index.llms.openai_like import OpenAILike

from indexes import IndexReader
from ingest import IngestReport
from integrations.llamaindex import SyllabusRetriever
from service.schemas import AskResponse
from tests.integrations.questions import HNSW, LSTM, METADATA, QUANTIZATION
from tests.service.llama_server import LlamaServer

pytestmark = pytest.mark.integration


def _sources(nodes: list[NodeWithScore]) -> list[str]:
    return [n.node.metadata["source"] for n in nodes]


def test_in_process_retriever_returns_scored_text_nodes_with_metadata(
    demo_index: tuple[IndexReader, IngestReport],
) -> None:
    nodes = SyllabusRetriever.from_index(demo_index[0], similarity_top_k=3).retrieve(LSTM[0])
    assert len(nodes) == 3 and LSTM[1] in _sources(nodes)
    for scored in nodes:
        node = scored.node
        assert isinstance(node, TextNode) and node.text
        assert set(node.metadata) == METADATA
        assert node.node_id == node.metadata["chunk_id"]
        assert scored.score == node.metadata["score"]
    scores = [n.score for n in nodes]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


def test_the_model_sees_where_a_passage_comes_from_not_its_scores(
    demo_index: tuple[IndexReader, IngestReport],
) -> None:
    nodes = SyllabusRetriever.from_index(demo_index[0], similarity_top_k=5).retrieve(
        QUANTIZATION[0]
    )
    pdf = next(n.node for n in nodes if n.node.metadata["source"] == QUANTIZATION[1])
    markdown = next(n.node for n in nodes if n.node.metadata["page"] is None)
    shown = pdf.get_content(metadata_mode=MetadataMode.LLM)
    assert f"source: {QUANTIZATION[1]}" in shown and f"page: {pdf.metadata['page']}" in shown
    assert "score" not in shown and "chunk_id" not in shown
    assert pdf.text in shown
    assert "page:" not in markdown.get_content(metadata_mode=MetadataMode.LLM)


def test_over_http_and_async_the_retriever_returns_the_same_nodes(
    demo_index: tuple[IndexReader, IngestReport], syllabus_url: str
) -> None:
    local = SyllabusRetriever.from_index(demo_index[0], similarity_top_k=4)
    remote = SyllabusRetriever.from_url(syllabus_url, collection="default", similarity_top_k=4)
    expected = [n.node.node_id for n in local.retrieve(HNSW[0])]
    assert [n.node.node_id for n in remote.retrieve(HNSW[0])] == expected
    assert [n.node.node_id for n in asyncio.run(remote.aretrieve(HNSW[0]))] == expected
    assert [n.node.node_id for n in asyncio.run(local.aretrieve(HNSW[0]))] == expected
    assert _sources(remote.retrieve(HNSW[0]))[0] == HNSW[1]


def test_similarity_top_k_is_bounded() -> None:
    with pytest.raises(ValueError, match="similarity_top_k"):
        SyllabusRetriever.from_url("http://127.0.0.1:9", similarity_top_k=0)


def test_a_query_engine_answers_from_the_retrieved_nodes(
    syllabus_url: str, model_server: LlamaServer
) -> None:
    """Retrieval from Syllabus, synthesis by a separate OpenAI-compatible model server."""
    llm = OpenAILike(
        api_base=model_server.base_url,
        api_key="unused",
        model=model_server.model,
        is_chat_model=True,
        context_window=2048,
        max_tokens=48,
        temperature=0,
        max_retries=0,
    )
    retriever = SyllabusRetriever.from_url(syllabus_url, similarity_top_k=3)
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm)
    response = engine.query(LSTM[0])
    assert str(response).strip()
    assert LSTM[1] in _sources(response.source_nodes)


def test_openai_like_llm_gets_syllabus_grounded_answer(syllabus_url: str) -> None:
    ask = AskResponse.model_validate(
        httpx.post(f"{syllabus_url}/v1/ask", json={"question": LSTM[0]}, timeout=120).json()
    )
    syllabus = OpenAILike(
        api_base=f"{syllabus_url}/v1",
        api_key="unused",
        model="default",
        is_chat_model=True,
        max_retries=0,
    )
    completion = syllabus.complete(LSTM[0])
    # Syllabus's grounded answer (its wording may differ from the /v1/ask one: llama.cpp
    # reuses the previous prompt's prefix, so greedy decoding is not repeatable).
    assert ask.mode != "abstained"
    assert "forget" in completion.text.lower() and re.search(r"\[\d+\]", completion.text)
