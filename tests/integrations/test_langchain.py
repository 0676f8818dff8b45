"""The LangChain retriever over a real index and a real service, in a real chain, and
LangChain's ChatOpenAI talking to Syllabus's OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import re
import shutil
from operator import itemgetter
from pathlib import Path

import httpx
import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough
from langchain_openai import ChatOpenAI
from pydantic import ValidationError

from indexes import IndexReader
from ingest import IngestReport
from integrations.client import SyllabusError
from integrations.langchain import SyllabusRetriever
from service.schemas import AskResponse
from tests.integrations.questions import HNSW, LSTM, METADATA, QUANTIZATION
from tests.service.llama_server import LlamaServer

pytestmark = pytest.mark.integration
CITED = re.compile(r"\[\d+\]")


def _sources(docs: list[Document]) -> list[str]:
    return [doc.metadata["source"] for doc in docs]


def test_in_process_retriever_finds_the_note_with_its_metadata(
    demo_index: tuple[IndexReader, IngestReport],
) -> None:
    retriever = SyllabusRetriever.from_index(demo_index[0], k=3)
    docs = retriever.invoke(LSTM[0])
    assert len(docs) == 3 and LSTM[1] in _sources(docs)
    for doc in docs:
        assert isinstance(doc, Document) and doc.page_content
        assert set(doc.metadata) == METADATA
        assert doc.id == doc.metadata["chunk_id"]
        assert doc.metadata["heading_path"] and doc.metadata["title"]
    scores = [doc.metadata["score"] for doc in docs]
    assert scores == sorted(scores, reverse=True)


def test_passages_from_a_pdf_carry_their_page(
    demo_index: tuple[IndexReader, IngestReport],
) -> None:
    docs = SyllabusRetriever.from_index(demo_index[0], k=5).invoke(QUANTIZATION[0])
    pages = [doc.metadata["page"] for doc in docs if doc.metadata["source"] == QUANTIZATION[1]]
    assert pages and all(isinstance(page, int) and page >= 1 for page in pages)


def test_over_http_the_retriever_returns_the_same_documents(
    demo_index: tuple[IndexReader, IngestReport], syllabus_url: str
) -> None:
    local = SyllabusRetriever.from_index(demo_index[0], k=4).invoke(HNSW[0])
    remote = SyllabusRetriever.from_url(syllabus_url, k=4).invoke(HNSW[0])
    assert [d.id for d in remote] == [d.id for d in local]
    assert [d.page_content for d in remote] == [d.page_content for d in local]
    assert _sources(remote)[0] == HNSW[1]


def test_async_retrieval_matches_sync_in_process_and_over_http(
    demo_index: tuple[IndexReader, IngestReport], syllabus_url: str
) -> None:
    for retriever in (
        SyllabusRetriever.from_index(demo_index[0], k=3),
        SyllabusRetriever.from_url(f"{syllabus_url}/v1", collection="default", k=3),
    ):
        docs = asyncio.run(retriever.ainvoke(LSTM[0]))
        assert [d.id for d in docs] == [d.id for d in retriever.invoke(LSTM[0])]


def test_a_collection_is_found_by_name_in_process(
    demo_index: tuple[IndexReader, IngestReport], tmp_path: Path
) -> None:
    shutil.copytree(demo_index[0].root, tmp_path / "collections" / "default")
    docs = SyllabusRetriever.from_index(collection="default", k=3).invoke(LSTM[0])
    assert LSTM[1] in _sources(docs)


def test_an_unknown_collection_says_so(syllabus_url: str) -> None:
    retriever = SyllabusRetriever.from_url(syllabus_url, collection="nope")
    with pytest.raises(SyllabusError, match="unknown collection 'nope'") as raised:
        retriever.invoke(LSTM[0])
    assert raised.value.status == 404


def test_k_is_bounded_like_the_endpoint() -> None:
    with pytest.raises(ValidationError):
        SyllabusRetriever.from_url("http://127.0.0.1:9", k=0)


def test_a_chain_answers_from_the_retrieved_notes(
    syllabus_url: str, model_server: LlamaServer
) -> None:
    """Retrieval from Syllabus, generation by a separate OpenAI-compatible model server."""
    retriever = SyllabusRetriever.from_url(syllabus_url, k=3)
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer the question in one sentence, using only the notes."),
            ("human", "Notes:\n{notes}\n\nQuestion: {question}"),
        ]
    )
    llm = ChatOpenAI(
        base_url=model_server.base_url,
        api_key="unused",  # type: ignore[arg-type]
        model=model_server.model,
        max_tokens=48,
        temperature=0,
        max_retries=0,
    )

    def numbered(docs: list[Document]) -> str:
        return "\n\n".join(f"[{n}] {doc.page_content}" for n, doc in enumerate(docs, 1))

    answer = (
        {"notes": itemgetter("docs") | RunnableLambda(numbered), "question": itemgetter("question")}
        | prompt
        | llm
        | StrOutputParser()
    )
    chain = RunnableParallel(docs=retriever, question=RunnablePassthrough()).assign(answer=answer)
    result = chain.invoke(LSTM[0])
    assert LSTM[1] in _sources(result["docs"])
    assert isinstance(result["answer"], str) and result["answer"].strip()


def test_chat_openai_gets_syllabus_grounded_answer(syllabus_url: str) -> None:
    ask = AskResponse.model_validate(
        httpx.post(f"{syllabus_url}/v1/ask", json={"question": HNSW[0]}, timeout=120).json()
    )
    assert ask.mode != "abstained" and HNSW[1] in {c.source for c in ask.citations}

    syllabus = ChatOpenAI(
        base_url=f"{syllabus_url}/v1",
        api_key="unused",  # type: ignore[arg-type]
        model="default",
        max_retries=0,
    )
    reply = syllabus.invoke(HNSW[0])
    assert isinstance(reply, AIMessage)
    # The same grounded answer as /v1/ask gives (generation may differ in wording between
    # two runs: llama.cpp reuses the previous prompt's prefix).
    assert "efsearch" in str(reply.content).lower() and CITED.search(str(reply.content))
    assert reply.response_metadata["model_name"] == "default"

    streamed = "".join(str(chunk.content) for chunk in syllabus.stream(HNSW[0]))
    assert "efsearch" in streamed.lower() and CITED.search(streamed)


def test_chat_openai_follow_ups_carry_the_conversation(syllabus_url: str) -> None:
    syllabus = ChatOpenAI(
        base_url=f"{syllabus_url}/v1",
        api_key="unused",  # type: ignore[arg-type]
        model="default",
        max_retries=0,
    )
    reply = syllabus.invoke(
        [
            HumanMessage("What is an LSTM?"),
            AIMessage("A recurrent network with gates [1]."),
            HumanMessage(LSTM[0]),
        ]
    )
    assert CITED.search(str(reply.content))
