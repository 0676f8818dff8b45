"""The searchers behind both adapters: HTTP requests and errors, the same hits either way."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from indexes import IndexNotFound, IndexReader
from ingest import IngestReport
from integrations.client import HttpSearcher, LocalSearcher, SyllabusError, metadata
from service.schemas import SearchHit, SearchResponse
from tests.integrations.questions import HNSW, LSTM, METADATA

HIT = SearchHit(
    chunk_id="c1",
    text="The forget gate decides what to keep.",
    source="corpus/rnns-and-lstms.md",
    title="RNNs and LSTMs",
    page=None,
    heading_path=["RNNs and LSTMs", "Gates"],
    score=0.16,
    dense_score=0.71,
    lexical_score=9.5,
    start=120,
    end=157,
)


class Recorder:
    """An httpx handler that records requests and answers with a fixed response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response

    async def answer(self, request: httpx.Request) -> httpx.Response:
        return self(request)


def _ok() -> httpx.Response:
    body = SearchResponse(hits=[HIT], collection="ml-101", index_version=3)
    return httpx.Response(200, json=body.model_dump())


def test_posts_to_v1_search_with_the_collection_and_parses_hits() -> None:
    recorder = Recorder(_ok())
    searcher = HttpSearcher(
        "http://syllabus.test/v1/",
        collection="ml-101",
        api_key="course-key-0123456789",
        transport=httpx.MockTransport(recorder),
    )
    assert searcher.search("forget gate", 3) == [HIT]
    (request,) = recorder.requests
    assert str(request.url) == "http://syllabus.test/v1/search"
    assert request.headers["Authorization"] == "Bearer course-key-0123456789"
    assert json.loads(request.content) == {
        "query": "forget gate",
        "top_k": 3,
        "collection": "ml-101",
    }


def test_without_a_collection_the_service_default_is_asked() -> None:
    recorder = Recorder(_ok())
    transport = httpx.MockTransport(recorder.answer)
    searcher = HttpSearcher("http://syllabus.test", async_transport=transport)
    assert asyncio.run(searcher.asearch("forget gate", 2)) == [HIT]
    assert json.loads(recorder.requests[0].content) == {"query": "forget gate", "top_k": 2}
    assert "Authorization" not in recorder.requests[0].headers


def test_service_errors_carry_its_code_and_message() -> None:
    error = {"error": {"code": "not_found", "message": "unknown collection 'nope'"}}
    recorder = Recorder(httpx.Response(404, json=error))
    searcher = HttpSearcher("http://syllabus.test", transport=httpx.MockTransport(recorder))
    with pytest.raises(SyllabusError, match="unknown collection 'nope'") as raised:
        searcher.search("anything", 5)
    assert (raised.value.status, raised.value.code) == (404, "not_found")


def test_an_answer_from_something_else_than_syllabus_is_an_error_too() -> None:
    recorder = Recorder(httpx.Response(502, text="<html>Bad Gateway</html>"))
    searcher = HttpSearcher("http://syllabus.test", transport=httpx.MockTransport(recorder))
    with pytest.raises(SyllabusError, match="Bad Gateway") as raised:
        searcher.search("anything", 5)
    assert (raised.value.status, raised.value.code) == (502, "http_error")


@pytest.mark.parametrize(("query", "k"), [("   ", 5), ("forget gate", 0), ("forget gate", 51)])
def test_queries_are_checked_like_the_endpoint_checks_them(query: str, k: int) -> None:
    recorder = Recorder(_ok())
    searcher = HttpSearcher("http://syllabus.test", transport=httpx.MockTransport(recorder))
    with pytest.raises(ValidationError):
        searcher.search(query, k)
    assert recorder.requests == []


def test_metadata_is_the_hit_without_its_text() -> None:
    assert set(metadata(HIT)) == METADATA
    assert metadata(HIT)["heading_path"] == ["RNNs and LSTMs", "Gates"]


@pytest.mark.integration
@pytest.mark.parametrize("question", [LSTM[0], HNSW[0]])
def test_in_process_and_http_give_the_same_passages(
    demo_index: tuple[IndexReader, IngestReport], syllabus_url: str, question: str
) -> None:
    local = LocalSearcher(demo_index[0]).search(question, 5)
    remote = HttpSearcher(syllabus_url).search(question, 5)
    assert [h.chunk_id for h in local] == [h.chunk_id for h in remote]
    for mine, theirs in zip(local, remote, strict=True):
        assert mine.model_dump(exclude={"score", "dense_score", "lexical_score"}) == (
            theirs.model_dump(exclude={"score", "dense_score", "lexical_score"})
        )
        assert mine.score == pytest.approx(theirs.score)
        assert mine.dense_score == pytest.approx(theirs.dense_score, abs=1e-5)


@pytest.mark.integration
def test_a_collection_is_opened_by_name_from_the_data_dir(
    demo_index: tuple[IndexReader, IngestReport], real_embedder: object, tmp_path: Path
) -> None:
    # The autouse fixture points SYLLABUS_DATA_DIR at tmp_path/collections.
    shutil.copytree(demo_index[0].root, tmp_path / "collections" / "ml-101")
    searcher = LocalSearcher.open(collection="ml-101", embedder=real_embedder)  # type: ignore[arg-type]
    assert LSTM[1] in {h.source for h in searcher.search(LSTM[0], 3)}
    with pytest.raises(IndexNotFound, match="nope"):
        LocalSearcher.open(collection="nope", embedder=real_embedder)  # type: ignore[arg-type]
