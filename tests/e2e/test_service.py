"""The service over real HTTP with the real embedder, index and default model via llama.cpp."""

from __future__ import annotations

import httpx
import openai
import pytest

from service.answering import NOT_COVERED
from service.schemas import AskResponse
from tests.servers import sse_events

pytestmark = pytest.mark.integration

QUESTIONS = [
    ("What does the forget gate in an LSTM do?", "rnns-and-lstms.md"),
    ("Why is attention scaled by the square root of d_k?", "attention.md"),
    ("What is the rank r in LoRA?", "lora-and-qlora.md"),
]


@pytest.mark.parametrize(("question", "note"), QUESTIONS)
def test_answers_cite_the_note_that_holds_the_answer(
    served_demo: str, question: str, note: str
) -> None:
    response = httpx.post(f"{served_demo}/v1/ask", json={"question": question}, timeout=120)
    answer = AskResponse.model_validate(response.json())
    assert answer.mode in ("generative", "extractive"), answer.grounding.reason
    assert answer.answer and answer.citations
    assert f"corpus/{note}" in {c.source for c in answer.citations}
    # Each source is marked where the learner reads it: in the answer or beneath it.
    marked = {q.citation for q in answer.quotes}
    assert all(f"[{c.n}]" in answer.answer or c.n in marked for c in answer.citations)


@pytest.mark.parametrize(
    "question", ["Who won the 2018 World Cup?", "What is a good recipe for lasagne?"]
)
def test_out_of_domain_questions_are_abstained(served_demo: str, question: str) -> None:
    response = httpx.post(f"{served_demo}/v1/ask", json={"question": question}, timeout=120)
    answer = AskResponse.model_validate(response.json())
    assert answer.mode == "abstained"
    assert answer.answer == NOT_COVERED


def test_sse_client_reads_citations_tokens_and_done_in_order(served_demo: str) -> None:
    body = {"question": "How does Adam correct the bias of its moments?", "stream": True}
    found = sse_events(f"{served_demo}/v1/ask", body)
    kinds = [kind for kind, _ in found]
    payloads = [data for _, data in found]
    assert kinds[0] == "citations" and kinds[-1] == "done" and "token" in kinds
    assert payloads[0]["citations"]
    done = AskResponse.model_validate(payloads[-1])
    assert done.timings.first_token_ms is not None


def test_the_openai_sdk_talks_to_syllabus(served_demo: str) -> None:
    client = openai.OpenAI(base_url=f"{served_demo}/v1", api_key="not-needed", max_retries=0)
    assert "default" in [m.id for m in client.models.list()]
    completion = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "What does the efSearch parameter of HNSW control?"}],
    )
    content = completion.choices[0].message.content or ""
    citations = (completion.model_extra or {})["citations"]
    assert content and citations
    assert "corpus/vector-databases.md" in {c["source"] for c in citations}

    stream = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "What is nucleus sampling?"}],
        stream=True,
    )
    pieces, extras = [], {}
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        extras.update(chunk.model_extra or {})
    assert "".join(pieces).strip()
    assert extras["citations"]
    with pytest.raises(openai.NotFoundError, match="unknown collection"):
        client.chat.completions.create(
            model="no-such-course", messages=[{"role": "user", "content": "hi?"}]
        )
    client.close()
