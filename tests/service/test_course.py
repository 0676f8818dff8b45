"""A collection's own settings (course.json): read, changed, validated, and applied to its
answers only; an invalid file makes that collection alone unavailable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from indexes import DataRoot, Embedder
from ingest import Pipeline
from service.answering import Answerer, AnswerPolicy, GroundingChecker, Question
from service.app import create_app
from service.cli import app as cli
from service.course import COURSE_FILE, Courses
from service.library import Library
from service.schemas import CourseConfigResponse, ErrorBody
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import NOTES, FakeGenerator, ingest_notes
from tests.service.keys import AS_ADMIN

QUESTION = {"question": "How does Adam correct its bias?"}


@pytest.fixture
def courses(admin_settings: Settings, fake_generator: FakeGenerator) -> Iterator[TestClient]:
    """An app with two collections, 'default' and 'ml-201', that abstains on nothing."""
    ingest_notes(admin_settings.data_dir)
    ingest_notes(admin_settings.data_dir, "ml-201")
    settings = admin_settings.model_copy(update={"abstain_threshold": 0.0})
    app = create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as client:
        yield client


def configure(client: TestClient, name: str, **changes: object) -> CourseConfigResponse:
    response = client.patch(f"/v1/collections/{name}/config", json=changes, headers=AS_ADMIN)
    assert response.status_code == 200, response.text
    return CourseConfigResponse.model_validate(response.json())


def test_a_course_threshold_applies_to_its_collection_only(courses: TestClient) -> None:
    body = configure(courses, "ml-201", abstain_threshold=0.99)
    assert body.config == {"abstain_threshold": 0.99}
    assert (
        body.effective["abstain_threshold"] == 0.99 and body.effective["teaching_mode"] == "answer"
    )
    strict = courses.post("/v1/ask", json=QUESTION | {"collection": "ml-201"}).json()
    assert strict["mode"] == "abstained" and strict["grounding"]["abstain_threshold"] == 0.99
    usual = courses.post("/v1/ask", json=QUESTION).json()
    assert usual["mode"] != "abstained" and usual["grounding"]["abstain_threshold"] == 0.0


def test_null_goes_back_to_the_global_setting(
    courses: TestClient, admin_settings: Settings
) -> None:
    configure(courses, "ml-201", abstain_threshold=0.99, title="ML 201")
    body = configure(courses, "ml-201", abstain_threshold=None)
    assert body.config == {"title": "ML 201"} and body.effective["abstain_threshold"] == 0.0
    stored = json.loads((admin_settings.data_dir / "ml-201" / COURSE_FILE).read_text())
    assert stored == {"title": "ML 201"}
    read = courses.get("/v1/collections/ml-201/config", headers=AS_ADMIN).json()
    assert read["config"] == {"title": "ML 201"}


def test_the_widget_reads_the_course_title_and_greeting(courses: TestClient) -> None:
    configure(courses, "ml-201", title="ML 201 helper", greeting="Ask about week 3.")
    course = courses.get("/v1/course", params={"collection": "ml-201"}).json()
    assert course == {
        "collection": "ml-201",
        "title": "ML 201 helper",
        "greeting": "Ask about week 3.",
        "teaching_mode": "answer",
        "answer_style": "explain",
    }
    assert courses.get("/v1/course").json()["title"] is None  # the default course sets none


def test_a_course_style_prompt_note_and_links_reach_its_answers(
    courses: TestClient, fake_generator: FakeGenerator
) -> None:
    configure(
        courses,
        "ml-201",
        answer_style="short",
        prompt_note="Students are first-years; spell out every symbol.",
        source_urls={"notes-ml-201/": "https://ml201.example.org/{stem}.html"},
    )
    answer = courses.post("/v1/ask", json=QUESTION | {"collection": "ml-201"}).json()
    system = fake_generator.prompts[-1][0].content
    assert "shortest exact words" in system  # style short, though the request named none
    assert system.endswith("Students are first-years; spell out every symbol.")
    urls = [c["url"] for c in answer["citations"]]
    assert urls and all(u.startswith("https://ml201.example.org/adam.html") for u in urls)
    courses.post("/v1/ask", json=QUESTION | {"style": "explain", "collection": "ml-201"})
    assert "two to four sentences" in fake_generator.prompts[-1][0].content  # asked: explain


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"abstain_threshold": 2}', "abstain_threshold"),
        ('{"teaching_mode": "lecture"}', "teaching_mode"),
        ('{"greting": "typo"}', "greting: unknown key"),
        ('{"model": "gpt-7"}', "model: not a packaged model"),
        ("{not json", "not readable JSON"),
        ("[]", "not a JSON object"),
    ],
)
def test_an_invalid_course_file_makes_that_collection_alone_unavailable(
    courses: TestClient, admin_settings: Settings, text: str, field: str
) -> None:
    (admin_settings.data_dir / "ml-201" / COURSE_FILE).write_text(text, encoding="utf-8")
    for path, body in (("/v1/ask", QUESTION), ("/v1/search", {"query": "Adam"})):
        response = courses.post(path, json=body | {"collection": "ml-201"})
        assert response.status_code == 503
        error = ErrorBody.model_validate(response.json()).error
        assert error.code == "collection_unavailable"
        assert "ml-201/course.json" in error.message and field in error.message
        assert str(admin_settings.data_dir) not in error.message  # no server paths
    assert courses.post("/v1/ask", json=QUESTION).status_code == 200  # the others serve
    # The admin API repairs it: the damaged keys give way to the valid change.
    repaired = courses.patch(
        "/v1/collections/ml-201/config", json={"title": "Fixed"}, headers=AS_ADMIN
    )
    if field.startswith(("abstain", "teaching", "greting", "model")):
        assert repaired.status_code == 422  # the file's own bad key is still there
        reset = dict.fromkeys(("abstain_threshold", "teaching_mode", "greting", "model"))
        courses.patch("/v1/collections/ml-201/config", json=reset, headers=AS_ADMIN)
    else:
        assert repaired.status_code == 200
    assert courses.post("/v1/ask", json=QUESTION | {"collection": "ml-201"}).status_code in {
        200,
        503,
    }


def test_a_change_that_is_invalid_is_refused_and_nothing_is_written(
    courses: TestClient, admin_settings: Settings
) -> None:
    for change in ({"abstain_threshold": "high"}, {"model": "gpt-7"}, {"colour": "blue"}):
        response = courses.patch("/v1/collections/ml-201/config", json=change, headers=AS_ADMIN)
        assert response.status_code == 422, change
        ErrorBody.model_validate(response.json())
    assert not (admin_settings.data_dir / "ml-201" / COURSE_FILE).exists()
    assert courses.patch("/v1/collections/ml-201/config", json={}).status_code == 401
    missing = courses.patch("/v1/collections/nope/config", json={}, headers=AS_ADMIN)
    assert missing.status_code == 404


def test_a_course_that_names_a_model_is_answered_by_it(settings: Settings) -> None:
    ingest_notes(settings.data_dir)
    built: dict[str, FakeGenerator] = {}

    def model(name: str) -> FakeGenerator:
        generator = built.setdefault(name, FakeGenerator())
        generator.model_name = name
        return generator

    embedder = FakeEmbedder()
    library = Library(DataRoot(settings.data_dir), embedder, settings.fusion())
    answerer = Answerer(
        library,
        embedder,
        FakeGenerator(),
        GroundingChecker(embedder, 0.0),
        AnswerPolicy(abstain_threshold=0.0, min_supported_ratio=0.0),
        models=model,
    )
    Courses().update(settings.data_dir / "default", {"model": "qwen2.5-coder-0.5b"})
    answer = asyncio.run(answerer.answer(Question(QUESTION["question"], "default")))
    assert list(built) == ["qwen2.5-coder-0.5b"] and built["qwen2.5-coder-0.5b"].prompts
    assert answer.model == "qwen2.5-coder-0.5b"


def test_the_cli_shows_and_changes_a_course(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_notes(settings.data_dir)
    monkeypatch.setenv("SYLLABUS_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    changed = runner.invoke(
        cli, ["collections", "config", "default", "abstain_threshold=0.35", "teaching_mode=guide"]
    )
    assert changed.exit_code == 0, changed.output
    assert "default/course.json" in changed.output and "0.35" in changed.output
    stored = json.loads((settings.data_dir / "default" / COURSE_FILE).read_text())
    assert stored == {"abstain_threshold": 0.35, "teaching_mode": "guide"}
    wrong = runner.invoke(cli, ["collections", "config", "default", "abstain_threshold=7"])
    assert wrong.exit_code == 2 and "abstain_threshold" in wrong.output
    unset = runner.invoke(cli, ["collections", "config", "default", "teaching_mode="])
    assert unset.exit_code == 0
    assert json.loads((settings.data_dir / "default" / COURSE_FILE).read_text()) == {
        "abstain_threshold": 0.35
    }


@pytest.mark.integration
def test_calibration_picks_and_writes_a_collection_threshold(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_embedder: Embedder
) -> None:
    from eval.cli import app as eval_cli

    notes = tmp_path / "notes"
    notes.mkdir()
    for name, text in NOTES.items():
        (notes / name).write_text(text, encoding="utf-8")
    Pipeline(real_embedder, settings.chunker()).run([notes], settings.data_dir / "default")
    monkeypatch.setenv("SYLLABUS_DATA_DIR", str(settings.data_dir))
    questions = tmp_path / "course-questions.jsonl"
    rows = [{"question": q, "answerable": True} for q in ("How does Adam correct its bias?",
            "What does LoRA freeze?", "What rank does LoRA use?")]  # fmt: skip
    rows += [{"question": "Who painted the Mona Lisa?", "answerable": False}]
    questions.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    runner = CliRunner()
    shown = runner.invoke(eval_cli, ["calibrate", str(questions), "-c", "default"])
    assert shown.exit_code == 0, shown.output
    assert "Chosen" in shown.output and "not written" in shown.output
    assert not (settings.data_dir / "default" / COURSE_FILE).exists()
    written = runner.invoke(
        eval_cli, ["calibrate", str(questions), "-c", "default", "--write", "--out", str(tmp_path)]
    )
    assert written.exit_code == 0, written.output
    threshold = json.loads((settings.data_dir / "default" / COURSE_FILE).read_text())
    curve = json.loads((tmp_path / "calibration.json").read_text())
    assert threshold == {"abstain_threshold": curve["chosen"]}
    assert (tmp_path / "calibration.svg").read_text().startswith("<svg")
