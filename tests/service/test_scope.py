"""Questions scoped to what the learner reads: a document, a folder, a section.

The notes are ingested from the folder notes-course/, so their sources start with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexes import IndexReader
from service.app import create_app
from service.schemas import ErrorBody
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import FakeGenerator, ingest_notes

COURSE = {
    "week1/adam.md": "# Adam\n\n## Bias correction\n\nAdam divides each moving average by one "
    "minus beta to the power t.\n\n## Defaults\n\nThe learning rate is usually 0.001.\n",
    "week1/sgd.md": "# SGD\n\nSGD with momentum keeps a moving average of gradients; its "
    "learning rate is usually 0.1.\n",
    "week2/lora.md": "# LoRA\n\nLoRA trains two low-rank matrices; its learning rate is "
    "usually 0.0002.\n",
}
W1, W2 = "notes-course/week1/", "notes-course/week2/"


@pytest.fixture
def course(client: TestClient, tmp_path: Path) -> TestClient:
    ingest_notes(tmp_path / "collections", "course", COURSE)
    return client


def sources(course: TestClient, scope: dict[str, object] | None, query: str) -> list[str]:
    body: dict[str, object] = {"query": query, "collection": "course", "top_k": 10}
    if scope is not None:
        body["scope"] = scope
    response = course.post("/v1/search", json=body)
    assert response.status_code == 200, response.text
    return [hit["source"] for hit in response.json()["hits"]]


def test_without_a_scope_every_document_is_searched(course: TestClient) -> None:
    assert len(set(sources(course, None, "learning rate"))) == 3


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({"source_prefix": W1}, {W1 + "adam.md", W1 + "sgd.md"}),
        ({"documents": [W2 + "lora.md"]}, {W2 + "lora.md"}),
        ({"heading_prefix": ["adam", "DEFAULTS"]}, {W1 + "adam.md"}),
        ({"source_prefix": W1, "heading_prefix": ["SGD"]}, {W1 + "sgd.md"}),
    ],
)
def test_a_scope_keeps_the_search_to_its_part(
    course: TestClient, scope: dict[str, object], expected: set[str]
) -> None:
    assert set(sources(course, scope, "learning rate")) == expected


def test_a_section_scope_holds_only_that_section(course: TestClient) -> None:
    body = {
        "query": "beta",
        "collection": "course",
        "scope": {"heading_prefix": ["Adam", "Defaults"]},
    }
    hits = course.post("/v1/search", json=body).json()["hits"]
    assert hits and all(h["heading_path"][:2] == ["Adam", "Defaults"] for h in hits)


def test_a_document_is_named_by_its_id_too(course: TestClient, tmp_path: Path) -> None:
    documents = IndexReader(tmp_path / "collections" / "course", FakeEmbedder()).documents()
    lora = next(d for d in documents if d.source == W2 + "lora.md")
    assert set(sources(course, {"documents": [lora.doc_id]}, "rank")) == {W2 + "lora.md"}


@pytest.mark.parametrize("path", ["/v1/search", "/v1/ask"])
def test_a_scope_that_holds_nothing_is_a_404_naming_it(course: TestClient, path: str) -> None:
    field = "query" if path == "/v1/search" else "question"
    body = {field: "learning rate", "collection": "course", "scope": {"source_prefix": "week9/"}}
    response = course.post(path, json=body)
    assert response.status_code == 404
    error = ErrorBody.model_validate(response.json()).error
    assert error.code == "scope_empty" and "week9/" in error.message


@pytest.mark.parametrize(
    "scope",
    [
        {},
        {"documents": []},
        {"source_prefix": ""},
        {"pages": ["x"]},
        W1,
        {"page": "http://["},  # urlsplit raises on it: found by the fuzz test
        {"page": "https://"},
    ],
)
def test_a_scope_that_names_nothing_is_refused(course: TestClient, scope: object) -> None:
    body = {"query": "learning rate", "collection": "course", "scope": scope}
    response = course.post("/v1/search", json=body)
    assert response.status_code == 422
    ErrorBody.model_validate(response.json())


def test_an_answer_is_written_from_its_scope_only(
    course: TestClient, fake_generator: FakeGenerator
) -> None:
    fake_generator.reply = "LoRA trains two low-rank matrices [1]."
    body = {
        "question": "what learning rate is usual?",
        "collection": "course",
        "scope": {"documents": [W2 + "lora.md"]},
    }
    answer = course.post("/v1/ask", json=body).json()
    assert answer["mode"] == "generative", answer["grounding"]["reason"]
    assert {c["source"] for c in answer["citations"]} == {W2 + "lora.md"}
    prompt = fake_generator.prompts[-1][-1].content
    assert "low-rank" in prompt and "Adam" not in prompt and "SGD" not in prompt


def test_the_openai_endpoint_takes_the_scope_as_an_extra_field(
    course: TestClient, fake_generator: FakeGenerator
) -> None:
    fake_generator.reply = "SGD with momentum keeps a moving average of gradients [1]."
    body = {
        "model": "course",
        "messages": [{"role": "user", "content": "what learning rate is usual?"}],
        "scope": {"source_prefix": W1 + "sgd"},
    }
    response = course.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert {c["source"] for c in response.json()["citations"]} == {W1 + "sgd.md"}
    body["scope"] = {"source_prefix": "nowhere/"}
    assert course.post("/v1/chat/completions", json=body).status_code == 404


def test_a_page_scope_is_the_documents_published_at_that_page(
    settings: Settings, tmp_path: Path
) -> None:
    site = {"course": {"notes-course/": "https://site.example/notes/{stem}/"}}
    settings = settings.model_copy(update={"source_urls": site})
    ingest_notes(tmp_path / "collections", "course", COURSE)
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    with TestClient(app) as client:
        # The page's address as the browser has it: query, fragment and slash aside.
        page = "https://SITE.example/notes/week1/adam?utm=x#defaults"
        assert set(sources(client, {"page": page}, "learning rate")) == {W1 + "adam.md"}
        body = {
            "query": "rate",
            "collection": "course",
            "scope": {"page": "https://site.example/x/"},
        }
        response = client.post("/v1/search", json=body)
        assert response.status_code == 404
        assert "https://site.example/x/" in ErrorBody.model_validate(response.json()).error.message
        body["scope"] = {"page": "javascript:alert(1)"}
        assert client.post("/v1/search", json=body).status_code == 422
