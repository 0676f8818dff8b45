"""Teaching mode guide: a request for a worked solution gets the idea, a hint and where the
notes explain it, never the result; other questions are answered as usual."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.answering.guide import asks_for_solution, worked_result
from service.app import create_app
from service.course import Courses
from service.schemas import AskResponse
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import FakeGenerator, ingest_notes

NOTES = {
    "fine-tuning.md": "# Fine-tuning\n\n## Memory\n\nFull fine-tuning updates every weight. "
    "With mixed-precision AdamW, training needs roughly 16 bytes per parameter for weights, "
    "gradients and optimiser state. A 7B model therefore needs over 100 GB of GPU memory.\n",
}
SOLUTION = "Compute how much GPU memory full fine-tuning of a 7B model needs, final number please"


@pytest.mark.parametrize(
    "question",
    [
        SOLUTION,
        "Solve exercise 3 for me",
        "what is the answer to homework 2",
        "Derive the gradient of the softmax cross-entropy loss",
        "write the code for beam search",
        "Give me the solution of problem 4",
    ],
)
def test_requests_for_a_solution_are_recognised(question: str) -> None:
    assert asks_for_solution(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is the chain rule?",
        "Why does Adam need bias correction?",
        "How does LoRA reduce memory?",
        "What does the forget gate do?",
        "how do i calculate kv cache size per token",
    ],
)
def test_questions_about_concepts_are_not_guided(question: str) -> None:
    assert not asks_for_solution(question)


@pytest.mark.parametrize(
    ("sentence", "hands_over"),
    [
        ("A 7B model therefore needs over 100 GB of GPU memory.", True),
        ("So the total is 7 x 16 = 112 GB.", True),
        ("The answer is 112 GB [1].", True),
        ("It costs about $6 \\times 7 \\approx 5.9 \\times 10^{21}$ FLOPs.", True),
        ("```python\ndef solve(): return 112\n```", True),
        ("Training needs roughly 16 bytes per parameter for weights and gradients.", False),
        ("Multiply the bytes each parameter needs by the number of parameters.", False),
    ],
)
def test_worked_results_are_told_from_explanations(sentence: str, hands_over: bool) -> None:
    assert worked_result(sentence) is hands_over


@pytest.fixture
def guided(settings: Settings, fake_generator: FakeGenerator) -> Iterator[TestClient]:
    ingest_notes(settings.data_dir, notes=NOTES)
    ingest_notes(settings.data_dir, "open", notes=NOTES)
    Courses().update(settings.data_dir / "default", {"teaching_mode": "guide"})
    loose = settings.model_copy(update={"abstain_threshold": 0.0, "min_supported_ratio": 0.0})
    app = create_app(loose, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as client:
        yield client


def ask(client: TestClient, question: str, collection: str = "default") -> AskResponse:
    response = client.post("/v1/ask", json={"question": question, "collection": collection})
    assert response.status_code == 200, response.text
    return AskResponse.model_validate(response.json())


def test_a_generated_answer_that_gives_the_result_away_is_not_shown(
    guided: TestClient, fake_generator: FakeGenerator
) -> None:
    fake_generator.reply = "Each parameter takes 16 bytes, so a 7B model needs 112 GB [1]."
    answer = ask(guided, SOLUTION)
    assert answer.guided and answer.mode == "extractive"
    assert answer.grounding.rejected_answer and "112" in answer.grounding.rejected_answer
    assert "112" not in answer.answer and "100 GB" not in answer.answer
    assert "16 bytes per parameter" in answer.answer  # the idea to work from
    assert "Memory" in answer.answer and "[1]" in answer.answer  # and where the notes are
    assert "solution" in fake_generator.prompts[-1][0].content  # the guide's own prompt


def test_a_hint_from_the_model_is_shown_as_a_guided_answer(
    guided: TestClient, fake_generator: FakeGenerator
) -> None:
    fake_generator.reply = "Count the bytes that each parameter needs during training [1]."
    answer = ask(guided, SOLUTION)
    assert answer.guided and answer.mode == "generative"
    assert answer.answer.startswith("Count the bytes")


def test_only_requests_for_solutions_are_guided(guided: TestClient) -> None:
    concept = ask(guided, "Why does full fine-tuning need so much memory?")
    assert not concept.guided
    elsewhere = ask(guided, SOLUTION, collection="open")  # teaching mode answer
    assert not elsewhere.guided


def test_an_exercise_s_own_data_is_not_taken_for_a_missing_subject(guided: TestClient) -> None:
    exercise = "Compute the GPU memory full fine-tuning of a 13B model needs, everywhere"
    answer = ask(guided, exercise)
    assert answer.guided and answer.mode != "abstained", answer.grounding.reason
    asked = ask(guided, "What is the GPU memory full fine-tuning of a 13B model needs?")
    assert asked.mode == "abstained" and "13b" in asked.grounding.reason.lower()
