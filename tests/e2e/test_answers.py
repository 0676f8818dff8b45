"""What a learner reads, from the real service with the default model over the demo notes."""

from __future__ import annotations

import httpx
import pytest

from service.schemas import AskResponse
from tests.paths import PROJECT
from tests.servers import sse_events

pytestmark = pytest.mark.integration


def ask(url: str, question: str, **extra: object) -> AskResponse:
    body = {"question": question, **extra}
    response = httpx.post(f"{url}/v1/ask", json=body, timeout=300)
    assert response.status_code == 200, response.text
    return AskResponse.model_validate(response.json())


def test_the_demo_question_is_answered_with_the_reason_not_the_notes_opening_line(
    served_demo: str,
) -> None:
    answer = ask(served_demo, "Why is attention scaled by the square root of d_k?")
    text = answer.answer.lower()
    assert answer.mode in ("generative", "extractive"), answer.grounding.reason
    assert "softmax" in text and ("variance" in text or "gradient" in text), answer.answer
    assert "this note covers" not in text
    assert all(s.supported for s in answer.grounding.sentences), answer.grounding


def test_a_question_about_a_method_the_notes_never_mention_is_abstained(
    served_demo: str,
) -> None:
    answer = ask(served_demo, "How does the Lion optimizer work?")
    assert answer.mode == "abstained"
    assert "lion" in answer.grounding.reason.lower()


def test_the_draft_from_the_notes_comes_before_the_model_writes(served_demo: str) -> None:
    body = {"question": "What does the forget gate in an LSTM do?", "stream": True}
    found = sse_events(f"{served_demo}/v1/ask", body)
    kinds = [kind for kind, _ in found]
    assert kinds[:2] == ["citations", "draft"] and kinds[-1] == "done", kinds
    draft = found[1][1]
    assert "forget" in draft["text"].lower() and draft["citations"]
    done = AskResponse.model_validate(found[-1][1])
    timings = done.timings
    assert timings.first_token_ms is not None and timings.generated_first_token_ms is not None
    assert timings.first_token_ms < timings.generated_first_token_ms
    if done.mode == "extractive":  # the generated answer failed verification: the draft stands
        assert done.answer == draft["text"]
        assert done.quotes == []
    sources = {c.n: c.source for c in done.citations}
    for quote in done.quotes:  # the notes' own words, from a passage the answer cites
        note = " ".join((PROJECT / sources[quote.citation]).read_text(encoding="utf-8").split())
        assert " ".join(quote.text.split()[:12]) in note, quote.text


def test_short_style_answers_with_the_span(served_demo: str) -> None:
    # "What share of tokens does BERT mask?" is answered "80%" since the worked examples:
    # the share of the chosen positions that get [MASK] (BENCHMARKS.md, "Answers").
    question = "What share of token positions does BERT choose as prediction targets?"
    answer = ask(served_demo, question, style="short")
    assert answer.mode != "abstained", answer.grounding.reason
    assert "15%" in answer.answer
    assert len(answer.answer.split()) <= 12, answer.answer
    assert answer.quotes == []  # a span stands alone


def test_a_guided_course_gives_the_idea_not_the_worked_result(served_demo: str) -> None:
    question = (
        "Compute how much GPU memory full fine-tuning of a 7B model needs with "
        "mixed-precision AdamW. Give me the final number."
    )
    guided = ask(served_demo, question, collection="guided")
    assert guided.guided and guided.mode != "abstained", guided.grounding.reason
    text = guided.answer
    assert not any(result in text for result in ("112", "100 GB", "over 100")), text
    assert "parameter" in text.lower() or "bytes" in text.lower(), text  # the idea to work from
    assert any(c.source.endswith("fine-tuning.md") for c in guided.citations)
    answered = ask(served_demo, question)  # the same notes in teaching mode answer
    assert not answered.guided
    concept = ask(served_demo, "What is full fine-tuning?", collection="guided")
    assert not concept.guided  # a concept question is answered as usual
