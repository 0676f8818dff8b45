"""Helpful / not helpful on an answer: kept across restarts, only for answers given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.feedback import DAY_SECONDS, FEEDBACK_NAME, AnswerJournal, AnswerRecord
from service.schemas import ErrorBody
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import FakeGenerator

QUESTION = {"question": "How does Adam correct its bias?"}


def asked(client: TestClient) -> str:
    response = client.post("/v1/ask", json=QUESTION)
    assert response.status_code == 200
    answer_id = response.json()["answer_id"]
    assert isinstance(answer_id, str) and len(answer_id) >= 16
    return answer_id


def test_a_rating_is_kept_and_survives_a_restart(
    client: TestClient, settings: Settings, fake_generator: FakeGenerator
) -> None:
    answer_id = asked(client)
    response = client.post("/v1/feedback", json={"answer_id": answer_id, "helpful": False})
    assert response.status_code == 200, response.text
    assert response.json() == {"answer_id": answer_id, "helpful": False, "stored": True}

    folder = settings.data_dir / "default"
    app = create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as restarted:
        # The answer given before the restart can still be rated: the new rating replaces it.
        again = {"answer_id": answer_id, "helpful": True}
        assert restarted.post("/v1/feedback", json=again).status_code == 200
    journal = AnswerJournal()
    (question, answer, helpful, comment), *rest = journal.ratings(folder)
    journal.close()
    assert rest == [] and question == QUESTION["question"] and helpful is True
    assert answer and comment is None


def test_a_comment_is_kept_with_its_answer(client: TestClient, settings: Settings) -> None:
    answer_id = asked(client)
    body = {"answer_id": answer_id, "helpful": False, "comment": "  It skipped the formula. "}
    assert client.post("/v1/feedback", json=body).status_code == 200
    journal = AnswerJournal()
    [(_, _, helpful, comment)] = journal.ratings(settings.data_dir / "default")
    journal.close()
    assert (helpful, comment) == (False, "It skipped the formula.")


@pytest.mark.parametrize(
    "body",
    [
        {"answer_id": "forged-id-0123456789", "helpful": True},
        {"answer_id": "x" * 64, "helpful": False},
    ],
)
def test_an_answer_never_given_cannot_be_rated(client: TestClient, body: dict[str, object]) -> None:
    asked(client)
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 404
    assert ErrorBody.model_validate(response.json()).error.code == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"helpful": True},
        {"answer_id": "abc", "helpful": "maybe"},
        {"answer_id": "abc", "helpful": 1},  # a number is no verdict
        {"answer_id": "abc", "helpful": True, "comment": "x" * 501},
        {"answer_id": "x" * 65, "helpful": True},
        {"answer_id": "abc", "helpful": True, "learner": "me"},
    ],
)
def test_a_malformed_rating_is_a_422(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 422
    ErrorBody.model_validate(response.json())


def test_the_stream_and_the_openai_endpoint_carry_the_answer_id(client: TestClient) -> None:
    with client.stream("POST", "/v1/ask", json=QUESTION | {"stream": True}) as response:
        frames = [line for line in response.iter_lines() if line.startswith("data: ")]
    done = json.loads(frames[-1].removeprefix("data: "))
    streamed = {"answer_id": done["answer_id"], "helpful": True}
    assert client.post("/v1/feedback", json=streamed).status_code == 200
    body = {"model": "default", "messages": [{"role": "user", "content": QUESTION["question"]}]}
    completion = client.post("/v1/chat/completions", json=body).json()
    answer_id = completion["syllabus"]["answer_id"]
    rated = client.post("/v1/feedback", json={"answer_id": answer_id, "helpful": True})
    assert rated.status_code == 200


def test_the_store_holds_no_address_and_stays_bounded(tmp_path: Path) -> None:
    journal = AnswerJournal(max_answers=5)
    ids = [
        journal.record(tmp_path, AnswerRecord(f"question {i}", "an answer", "extractive"),
                       log_question=True)
        for i in range(8)
    ]  # fmt: skip
    with pytest.raises(Exception, match="no answer"):
        journal.rate(tmp_path, ids[0], True, None)  # among the oldest, forgotten
    journal.rate(tmp_path, ids[-1], True, None)
    journal.close()
    stored = (tmp_path / FEEDBACK_NAME).read_bytes()
    assert b"testclient" not in stored and b"127.0.0.1" not in stored


def test_a_flood_of_ratings_is_limited(tmp_path: Path) -> None:
    from tests.service.fakes import ingest_notes

    settings = Settings(data_dir=tmp_path / "collections", rate_limit_per_minute=1,
                        rate_limit_burst=3)  # fmt: skip
    ingest_notes(settings.data_dir)
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    with TestClient(app) as client:
        answer_id = asked(client)
        codes = [
            client.post("/v1/feedback", json={"answer_id": answer_id, "helpful": True}).status_code
            for _ in range(5)
        ]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]


def test_with_the_question_log_off_only_rated_answers_reach_the_disk(
    client: TestClient, settings: Settings
) -> None:
    unrated = client.post("/v1/ask", json={"question": "What is the learning rate in SGD?"})
    assert unrated.status_code == 200
    answer_id = asked(client)
    assert client.post("/v1/feedback", json={"answer_id": answer_id, "helpful": True}).is_success
    folder = settings.data_dir / "default"
    stored = b"".join(p.read_bytes() for p in folder.glob(FEEDBACK_NAME + "*"))  # with its WAL
    assert b"learning rate in SGD" not in stored
    assert QUESTION["question"].encode() in stored


def test_with_the_question_log_on_every_answer_is_logged_with_what_staff_read(
    tmp_path: Path, fake_generator: FakeGenerator
) -> None:
    from tests.service.fakes import ingest_notes

    settings = Settings(data_dir=tmp_path / "collections", question_log=True)
    ingest_notes(settings.data_dir)
    app = create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as client:
        answer = client.post("/v1/ask", json=QUESTION).json()
        off_topic = client.post("/v1/ask", json={"question": "Who won the 1966 World Cup?"})
    journal = AnswerJournal()
    first, second = journal.answers(settings.data_dir / "default")
    journal.close()
    assert first.answer_id == answer["answer_id"] and first.record.question == QUESTION["question"]
    assert first.record.mode == answer["mode"] and first.record.latency_ms
    assert first.record.best_score == pytest.approx(
        answer["grounding"]["best_passage_score"], abs=1e-3
    )
    assert {c.source for c in first.record.cited} == {c["source"] for c in answer["citations"]}
    assert second.record.mode == off_topic.json()["mode"] == "abstained"
    assert second.record.threshold == settings.abstain_threshold


def test_old_answers_are_deleted_after_the_retention(tmp_path: Path) -> None:
    import sqlite3

    journal = AnswerJournal()
    old, new = (
        journal.record(tmp_path, AnswerRecord(q, "an answer", "extractive"), log_question=True)
        for q in ("an old question", "a new question")
    )
    journal.rate(tmp_path, old, False, "old")
    with sqlite3.connect(tmp_path / FEEDBACK_NAME) as db:
        db.execute(
            "UPDATE answers SET asked_at = asked_at - ? WHERE answer_id = ?",
            (40 * DAY_SECONDS, old),
        )
    assert journal.prune(tmp_path, keep_days=30) == 1
    assert [a.answer_id for a in journal.answers(tmp_path)] == [new]
    assert journal.ratings(tmp_path) == []  # the old answer's rating went with it
    journal.close()


def test_an_unwritable_log_never_stops_an_answer(tmp_path: Path) -> None:
    (tmp_path / FEEDBACK_NAME).mkdir()  # sqlite cannot open a folder: as a full or broken disk
    journal = AnswerJournal()
    answer_id = journal.record(tmp_path, AnswerRecord("q", "a", "extractive"), log_question=True)
    assert answer_id and journal.answers(tmp_path) == []
    journal.close()


def test_answers_logged_at_once_from_many_threads_are_all_kept(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    journals = [AnswerJournal(), AnswerJournal()]  # two stores on one file, as two workers

    def log(n: int) -> str:
        record = AnswerRecord(f"question {n}", "an answer", "extractive")
        return journals[n % 2].record(tmp_path, record, log_question=True)

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(log, range(400)))
    kept = {a.answer_id for a in journals[0].answers(tmp_path)}
    for journal in journals:
        journal.close()
    assert len(ids) == 400 and kept == ids
