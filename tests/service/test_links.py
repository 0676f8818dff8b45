"""Citations link to where a learner can open the passage, or to nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from indexes import Chunk
from service.app import create_app
from service.links import SourceLinks, heading_anchor
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import FakeGenerator, ingest_notes

SITE = {
    "default": {
        "corpus/": "https://course.example.org/notes/{stem}.html",
        "corpus/papers/": "https://course.example.org/papers/",
    }
}


def chunk(source: str, headings: tuple[str, ...] = (), page: int | None = None) -> Chunk:
    return Chunk("c", "d", "text", "text", "Title", source, headings, page)


@pytest.mark.parametrize(
    ("source", "headings", "page", "url"),
    [
        (
            "corpus/attention.md",
            ("Attention", "Why divide by sqrt(d_k)?"),
            None,
            "https://course.example.org/notes/attention.html#why-divide-by-sqrtd_k",
        ),
        (
            "corpus/attention.md",
            ("Attention",),
            None,
            "https://course.example.org/notes/attention.html",
        ),
        (
            "corpus/papers/adam.pdf",
            (),
            3,
            "https://course.example.org/papers/adam.pdf#page=3",
        ),
        ("uploads/notes.md", ("Notes", "Part"), None, None),
        ("https://example.org/post", ("Post",), None, "https://example.org/post"),
    ],
)
def test_a_source_links_to_its_public_place(
    source: str, headings: tuple[str, ...], page: int | None, url: str | None
) -> None:
    assert SourceLinks(SITE).url("default", chunk(source, headings, page)) == url


def test_another_collection_gets_no_links() -> None:
    assert SourceLinks(SITE).url("other", chunk("corpus/attention.md")) is None


def test_anchors_are_spelled_as_github_spells_them() -> None:
    assert heading_anchor("GPTQ, AWQ, NF4, LLM.int8()") == "gptq-awq-nf4-llmint8"
    assert heading_anchor(" Reward Models and Bradley-Terry ") == "reward-models-and-bradley-terry"


@pytest.mark.parametrize(
    "bad",
    [
        {"default": {"corpus/": "javascript:alert(1)//"}},
        {"default": {"corpus/": "https://x.org/{name}.html"}},
    ],
)
def test_a_link_setting_that_is_not_a_web_address_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        Settings(source_urls=bad)


def test_citations_carry_their_span_and_link(settings: Settings) -> None:
    settings = settings.model_copy(
        update={
            "source_urls": {"default": {"notes-default/": "https://site.example/{stem}/"}},
            "abstain_threshold": 0.0,  # the fake embedder's similarities are low
        }
    )
    ingest_notes(settings.data_dir)
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    with TestClient(app) as client:
        answer = client.post("/v1/ask", json={"question": "How does Adam correct its bias?"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["citations"], answer.json()["grounding"]
    cite = answer.json()["citations"][0]
    assert cite["url"] == "https://site.example/adam/"  # one heading: the title, no anchor
    assert 0 <= cite["start"] < cite["end"]


def test_a_citation_places_the_sentence_the_answer_rests_on(settings: Settings) -> None:
    settings = settings.model_copy(update={"abstain_threshold": 0.0})
    ingest_notes(settings.data_dir)
    note = settings.data_dir.parent / "notes-default" / "adam.md"
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    with TestClient(app) as client:
        answer = client.post("/v1/ask", json={"question": "How does Adam correct its bias?"})
        cite = answer.json()["citations"][0]
        text = note.read_text(encoding="utf-8")
        placed = text[cite["sentence_start"] : cite["sentence_end"]]
        assert placed == "Bias correction divides each average by one minus beta to the power t."
        assert cite["start"] <= cite["sentence_start"] < cite["sentence_end"] <= cite["end"]

        # Once the file is edited, its offsets no longer hold: no span is guessed.
        note.write_text("# Adam\n\nRewritten.\n" + text, encoding="utf-8")
        restarted = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    with TestClient(restarted) as client:
        again = client.post("/v1/ask", json={"question": "How does Adam correct its bias?"})
    assert again.json()["citations"][0]["sentence_start"] is None
