"""What learners asked: the figures, the missed topics, the report files, the endpoint."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indexes import DocumentRecord, Embedder
from service.components import components_of
from service.feedback import DAY_SECONDS, FEEDBACK_NAME, AnswerJournal, AnswerRecord, Cited
from service.insights import SECTION_SEPARATOR as SEP
from service.insights import Insights, gather, topics
from service.insights_report import neutral, run_insights, write_report
from service.schemas import ErrorBody
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import ingest_notes
from tests.service.keys import AS_ADMIN, AS_ASKER

NOW = datetime(2024, 3, 20, 12, 0, tzinfo=UTC).timestamp()
RLHF = [
    "How is the reward model in RLHF trained?",
    "What does the RLHF reward model learn from human preferences?",
    "Explain the reward model used in reinforcement learning from human feedback (RLHF)",
    "how do you train a reward model for RLHF",
    "Why does RLHF need a separate reward model?",
    "reward model rlhf",
    "What loss is used to fit the RLHF reward model on preference pairs?",
    "In RLHF, how are human rankings turned into a reward model?",
]
DIFFUSION = [
    "How do diffusion models generate images?",
    "What is the forward noising process in a diffusion model?",
    "Explain denoising diffusion probabilistic models",
    "how does the reverse process in diffusion models work",
    "What noise schedule do diffusion models use?",
    "Why are diffusion models trained to predict the noise?",
    "diffusion models",
    "How does classifier-free guidance work in diffusion models?",
]
REPEATED = "  how is the reward model in RLHF   trained? "  # RLHF[0] again, spelt loosely
ADAM = Cited("adam.md", "Adam", ("Adam", "Bias correction"))
MOMENTS = Cited("adam.md", "Adam", ("Adam", "Moments"))
LORA = Cited("lora.md", "LoRA", ("LoRA", "Rank"))
UNHELPFUL = {3: "Too vague.", 50: "Wrong formula", 120: None, 200: "=HYPERLINK(1)", 299: "meh"}
DOCUMENTS = [
    DocumentRecord(f"{i:016x}", name, name, title, "0" * 64, "notes", 1, "2024-01-01T00:00:00Z")
    for i, (name, title) in enumerate(
        [("adam.md", "Adam"), ("lora.md", "LoRA"), ("attention.md", "Attention")]
    )
]


@dataclass
class Seeded:
    folder: Path
    journal: AnswerJournal


def _answered(n: int) -> AnswerRecord:
    """The n-th answer the materials could give: cites Adam, or LoRA every third."""
    cited: tuple[Cited, ...] = (LORA,) if n % 3 == 0 else (ADAM,)
    if n % 10 == 1:
        cited += (MOMENTS,)
    return AnswerRecord(
        question=f"Question {n} on the course",
        answer=f"Answer {n} [1].",
        mode="extractive" if n % 5 == 0 else "generative",
        best_score=0.7,
        threshold=0.2,
        cited=cited,
        latency_ms=100.0 + n,
    )


def _missed() -> list[AnswerRecord]:
    """Abstentions on RLHF and diffusion; two low-confidence answers on each."""
    abstained = [*RLHF[:6], *DIFFUSION[:6], REPEATED]
    found = [AnswerRecord(q, "", "abstained", best_score=0.1, threshold=0.2) for q in abstained]
    found += [AnswerRecord(q, "Maybe.", "extractive", rejected=True) for q in RLHF[6:]]
    found += [
        AnswerRecord(q, "Perhaps.", "generative", best_score=0.25, threshold=0.2)
        for q in DIFFUSION[6:]
    ]
    return [
        AnswerRecord(r.question, r.answer, r.mode, best_score=r.best_score,
                     threshold=r.threshold, rejected=r.rejected, latency_ms=50.0)
        for r in found
    ]  # fmt: skip


def _move(folder: Path, asked_at: dict[str, float]) -> None:
    with sqlite3.connect(folder / FEEDBACK_NAME) as connection:
        connection.executemany(
            "UPDATE answers SET asked_at = ? WHERE answer_id = ?",
            [(when, answer_id) for answer_id, when in asked_at.items()],
        )
    connection.close()


def seed(folder: Path, journal: AnswerJournal) -> None:
    """300 answers over 10 days (30 a day), 17 missed ones over days 1-8, 5 from 40 days
    ago; 5 answers rated unhelpful, 20 helpful."""
    asked_at: dict[str, float] = {}
    ratings: list[tuple[str, bool, str | None]] = []
    for n in range(300):
        answer_id = journal.record(folder, _answered(n), log_question=True)
        asked_at[answer_id] = NOW - (n // 30) * DAY_SECONDS - 3600 - n
        if n in UNHELPFUL:
            ratings.append((answer_id, False, UNHELPFUL[n]))
        elif n % 15 == 0:
            ratings.append((answer_id, True, None))
    for i, record in enumerate(_missed()):
        answer_id = journal.record(folder, record, log_question=True)
        asked_at[answer_id] = NOW - (1 + i % 8) * DAY_SECONDS - 7200
    for n in range(5):
        old = AnswerRecord(f"Quantum computing question {n}?", "", "abstained")
        answer_id = journal.record(folder, old, log_question=True)
        asked_at[answer_id] = NOW - 40 * DAY_SECONDS
        ratings.append((answer_id, False, "old"))
    _move(folder, asked_at)
    for answer_id, helpful, comment in ratings:
        journal.rate(folder, answer_id, helpful, comment)


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    folder = tmp_path / "course"
    folder.mkdir()
    journal = AnswerJournal()
    seed(folder, journal)
    yield Seeded(folder, journal)
    journal.close()


def insights_of(seeded: Seeded, embedder: Embedder, since_days: float = 30) -> Insights:
    return gather(seeded.journal, seeded.folder, embedder, DOCUMENTS, since_days, now=NOW)


def test_questions_are_counted_per_day_and_by_how_they_were_answered(seeded: Seeded) -> None:
    insights = insights_of(seeded, FakeEmbedder())
    assert insights.collection == "course"
    assert insights.questions == 317 and insights.answered == 304
    assert insights.abstained == 13 and insights.low_confidence == 4
    assert insights.modes == {"abstained": 13, "extractive": 62, "generative": 242}
    assert (insights.helpful, insights.unhelpful) == (19, 5)  # answer 120 is in both
    # 17 missed answers at 50 ms, then 100..399 ms: the 159th and the 90th percentile.
    assert (insights.latency_median_ms, insights.latency_p90_ms) == (241.0, 367.4)
    days = [(d.day, d.questions) for d in insights.per_day]
    assert days[0] == (date(2024, 3, 11), 30) and days[-1] == (date(2024, 3, 20), 30)
    assert [n for _, n in days] == [30, 32, 32, 32, 32, 32, 32, 32, 33, 30]
    week = insights_of(seeded, FakeEmbedder(), since_days=1)
    assert week.questions == 30 and [d.questions for d in week.per_day] == [30]


def test_a_period_without_questions_is_empty_not_an_error(tmp_path: Path) -> None:
    journal = AnswerJournal()
    insights = gather(journal, tmp_path, FakeEmbedder(), DOCUMENTS, 30, now=NOW)
    assert insights.questions == 0 and insights.per_day == [] and insights.topics == []
    assert insights.latency_median_ms is None and len(insights.never_cited) == 3


def test_unhelpful_answers_are_listed_newest_first_with_their_comment(seeded: Seeded) -> None:
    listed = insights_of(seeded, FakeEmbedder()).unhelpful_answers
    assert [a.question for a in listed] == [f"Question {n} on the course" for n in UNHELPFUL]
    assert [a.comment for a in listed] == list(UNHELPFUL.values())
    assert listed[0].answer == "Answer 3 [1]." and listed[0].sources == ["lora.md"]
    assert listed[1].sources == ["adam.md"] and listed[2].sources == ["lora.md"]
    assert listed[0].asked_at > listed[-1].asked_at


def test_the_documents_and_sections_cited_most_and_those_never_cited(seeded: Seeded) -> None:
    insights = insights_of(seeded, FakeEmbedder())
    documents = [(c.source, c.title, c.section, c.count) for c in insights.cited_documents]
    # Adam: 200 answers, and 10 LoRA answers that also cite Adam's moments; each once.
    assert documents == [("adam.md", "Adam", "", 210), ("lora.md", "LoRA", "", 100)]
    sections = [(c.section, c.count) for c in insights.cited_sections]
    assert sections == [
        (f"Adam{SEP}Bias correction", 200),
        (f"LoRA{SEP}Rank", 100),
        (f"Adam{SEP}Moments", 30),
    ]
    assert [d.source for d in insights.never_cited] == ["attention.md"]


@pytest.mark.integration
def test_missed_questions_are_grouped_by_topic(seeded: Seeded, real_embedder: Embedder) -> None:
    found = insights_of(seeded, real_embedder).topics
    topic_of = {q: n for n, t in enumerate(found) for q in t.questions}
    assert set(topic_of) == {*RLHF, *DIFFUSION}
    assert {topic_of[q] for q in RLHF} != {topic_of[q] for q in DIFFUSION}
    assert len({topic_of[q] for q in RLHF}) == 1 and len({topic_of[q] for q in DIFFUSION}) == 1
    rlhf, diffusion = found[topic_of[RLHF[0]]], found[topic_of[DIFFUSION[0]]]
    assert found == [rlhf, diffusion]  # the repeated question makes RLHF the larger topic
    assert (rlhf.size, rlhf.abstained, diffusion.size, diffusion.abstained) == (9, 7, 8, 6)
    assert "rlhf" in rlhf.label and "reward" in rlhf.label and "diffusion" in diffusion.label
    for topic in found:
        assert 1 <= len(topic.representatives) <= 3
        assert set(topic.representatives) <= set(topic.questions)
    assert Insights.model_validate_json(insights_of(seeded, real_embedder).model_dump_json())


def test_the_same_question_counts_once_among_the_representatives() -> None:
    from service.feedback import LoggedAnswer

    asked = ["What is RLHF?", "what is rlhf?", "What  is RLHF ?", "What is RLHF", "RLHF"]
    missed = [
        LoggedAnswer(str(i), NOW + i, AnswerRecord(q, "", "abstained"), None, None)
        for i, q in enumerate(asked)
    ]
    [topic] = topics(missed, FakeEmbedder())
    # Case and spacing make no new question; the fake embedder sees the next two as it.
    assert topic.size == 5 and len(topic.questions) == 4
    assert topic.representatives == ["What is RLHF", "RLHF"] and topic.label == "rlhf"


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8])
def test_a_few_missed_questions_are_grouped_without_a_warning(
    n: int, capfd: pytest.CaptureFixture[str]
) -> None:
    from service.feedback import LoggedAnswer

    words = ["alpha beta", "gamma delta", "epsilon zeta", "eta theta"]
    missed = [
        LoggedAnswer(str(i), NOW + i, AnswerRecord(f"{words[i % 4]} {i}?", "", "abstained"),
                     None, None)
        for i in range(n)
    ]  # fmt: skip
    found = topics(missed, FakeEmbedder())
    assert sum(t.size for t in found) == n
    assert found == topics(missed, FakeEmbedder())  # seeded: the same topics every time
    assert "WARNING" not in capfd.readouterr().err


def test_the_report_files_hold_the_same_data_and_neutralise_formulas(
    seeded: Seeded, tmp_path: Path
) -> None:
    insights = insights_of(seeded, FakeEmbedder())
    written = write_report(insights, tmp_path / "report")
    names = [p.name for p in written]
    assert names == [
        "insights.html", "insights.json", "questions_per_day.csv", "topics.csv",
        "unhelpful.csv", "cited.csv",
    ]  # fmt: skip
    folder = tmp_path / "report"
    assert Insights.model_validate_json((folder / "insights.json").read_text()) == insights
    with (folder / "unhelpful.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [r["comment"] for r in rows] == [
        "Too vague.",
        "Wrong formula",
        "",
        "'=HYPERLINK(1)",
        "meh",
    ]
    with (folder / "questions_per_day.csv").open(newline="") as file:
        assert sum(int(r["questions"]) for r in csv.DictReader(file)) == 317
    with (folder / "topics.csv").open(newline="") as file:
        asked = {r["question"] for r in csv.DictReader(file)}
    assert asked == {*RLHF, *DIFFUSION}
    page = (folder / "insights.html").read_text()
    assert "Content-Security-Policy" in page and "<script" not in page
    assert page.count("<svg") == 2 and f"Adam{SEP}Bias correction" in page


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1"])
def test_a_formula_is_text_in_a_csv_cell(cell: str) -> None:
    assert neutral(cell) == "'" + cell
    assert neutral("1+1") == "1+1" and neutral(-1) == -1


# An answer from the notes that tests.service.conftest.ingest_notes indexes.
NOTED_ADAM = AnswerRecord(
    "How does Adam correct its bias?", "By dividing [1].", "generative",
    cited=(Cited("notes-default/adam.md", "Adam", ("Adam",)),),
)  # fmt: skip


def test_the_endpoint_needs_an_admin_key(
    admin_client: TestClient, admin_settings: Settings
) -> None:
    folder = admin_settings.data_dir / "default"
    journal: AnswerJournal = components_of(cast(FastAPI, admin_client.app)).journal
    journal.record(folder, AnswerRecord("What is RLHF?", "", "abstained"), log_question=True)
    journal.record(folder, NOTED_ADAM, log_question=True)

    refused = admin_client.get("/v1/insights")
    assert refused.status_code == 401
    assert ErrorBody.model_validate(refused.json()).error.code == "unauthorized"
    assert admin_client.get("/v1/insights", headers=AS_ASKER).status_code == 403

    response = admin_client.get("/v1/insights", params={"since": 7}, headers=AS_ADMIN)
    assert response.status_code == 200, response.text
    insights = Insights.model_validate(response.json())
    assert (insights.collection, insights.days, insights.questions) == ("default", 7, 2)
    assert [t.questions for t in insights.topics] == [["What is RLHF?"]]
    assert [d.source for d in insights.never_cited] == ["notes-default/lora.md"]


@pytest.mark.parametrize(
    ("params", "status"),
    [({"since": 0}, 422), ({"since": 3651}, 422), ({"collection": "nope"}, 404)],
)
def test_the_endpoint_refuses_a_bad_period_or_collection(
    admin_client: TestClient, params: dict[str, str | int], status: int
) -> None:
    response = admin_client.get("/v1/insights", params=params, headers=AS_ADMIN)
    assert response.status_code == status, response.text
    assert ErrorBody.model_validate(response.json())


def test_the_command_writes_the_report_of_a_collection(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_notes(settings.data_dir)  # indexed with the fake embedder: the command uses one too
    monkeypatch.setattr(Settings, "embedder", lambda self: FakeEmbedder())
    journal = AnswerJournal()
    journal.record(settings.data_dir / "default", NOTED_ADAM, log_question=True)
    journal.close()
    written = run_insights(settings, "default", 30, tmp_path / "out")
    assert {p.parent for p in written} == {tmp_path / "out"}
    insights = Insights.model_validate_json((tmp_path / "out" / "insights.json").read_text())
    assert [c.source for c in insights.cited_documents] == ["notes-default/adam.md"]
    assert [d.source for d in insights.never_cited] == ["notes-default/lora.md"]
