"""Retrieval with the real embedder, FAISS and BM25 over real course material."""

from __future__ import annotations

import pytest

from indexes import IndexReader
from ingest import IngestReport
from service.answering.retrieve import retrieval_query
from service.generation.base import Message
from service.schemas import AskRequest

LEARNER_QUESTIONS = [
    ("What does the forget gate in an LSTM do?", "rnns-and-lstms.md"),
    ("Why is the dot product divided by the square root of d_k?", "attention.md"),
    ("How much memory does the KV cache need for each token?", "serving-with-vllm.md"),
    ("What is the rank r in LoRA and how many parameters does it save?", "lora-and-qlora.md"),
    ("How does Adam correct the bias of its moment estimates?", "adam-optimizer.md"),
    ("How does byte pair encoding build its vocabulary?", "tokenization.md"),
    ("What does the efSearch parameter of HNSW control?", "vector-databases.md"),
    ("What is the difference between top-k and nucleus sampling?", "decoding-and-sampling.md"),
    ("How is a reward model trained from human preference comparisons?", "rlhf.md"),
    (
        "What share of the input tokens does BERT mask during pre-training?",
        "bert-and-gpt-pretraining.md",
    ),
    ("How much memory do the weights of a 7B model take in 4-bit?", "quantization.pdf"),
    (
        "Why do we use the chain rule in backpropagation?",
        "neural-networks-and-backpropagation.md",
    ),
]


# The passages /v1/ask hands to the generator by default.
ANSWER_PASSAGES = AskRequest.model_fields["top_k"].default


@pytest.mark.integration
@pytest.mark.parametrize(("question", "note"), LEARNER_QUESTIONS)
def test_learner_questions_find_the_right_note_among_the_answer_passages(
    demo_index: tuple[IndexReader, IngestReport], question: str, note: str
) -> None:
    reader, _ = demo_index
    sources = [hit.chunk.source for hit in reader.search(question, k=ANSWER_PASSAGES)]
    assert f"corpus/{note}" in sources, sources


@pytest.mark.integration
def test_demo_corpus_ingests_cleanly_with_a_pdf(
    demo_index: tuple[IndexReader, IngestReport],
) -> None:
    reader, report = demo_index
    assert report.failed == []
    assert len(report.added) >= 20
    pdf_chunks = [
        h.chunk
        for h in reader.search("quantization int4 memory", k=10)
        if h.chunk.source.endswith(".pdf")
    ]
    assert pdf_chunks and all(c.page is not None and c.page >= 1 for c in pdf_chunks)


# (question, paper, a phrase of the passage, the page it is printed on)
PAPER_PASSAGES = [
    (
        "What value of label smoothing did the Transformer use during training?",
        "1706.03762_attention-is-all-you-need.pdf",
        "label smoothing of value",
        8,
    ),
    (
        "How is decoding done at test time for RAG-Sequence and RAG-Token?",
        "2005.11401_retrieval-augmented-generation.pdf",
        "require different ways",
        4,
    ),
    (
        "What is the PPO-ptx objective that mixes in pretraining gradients?",
        "2203.02155_instructgpt.pdf",
        "We call these models",
        9,
    ),
    (
        "In the Adam algorithm, what are good default settings for alpha, beta1 and beta2?",
        "1412.6980_adam.pdf",
        "Algorithm 1: Adam",
        2,
    ),
]


@pytest.mark.integration
@pytest.mark.parametrize(("question", "paper", "phrase", "page"), PAPER_PASSAGES)
def test_citations_into_papers_carry_the_right_page(
    shared_index: tuple[IndexReader, IngestReport],
    question: str,
    paper: str,
    phrase: str,
    page: int,
) -> None:
    reader, _ = shared_index
    hits = reader.search(question, k=5)
    found = [h.chunk for h in hits if h.chunk.source.endswith(paper) and phrase in h.chunk.text]
    assert found, [(h.chunk.source, h.chunk.page, h.chunk.text[:60]) for h in hits]
    assert {c.page for c in found} == {page}


@pytest.mark.integration
def test_shared_corpus_markdown_keeps_headings_and_drops_code_cells(
    shared_index: tuple[IndexReader, IngestReport],
) -> None:
    reader, report = shared_index
    assert report.failed == []
    hits = reader.search("multi-head attention concatenates the heads", k=5)
    d2l = [h.chunk for h in hits if "d2l/" in h.chunk.source]
    assert d2l and all(c.heading_path for c in d2l)
    assert not any("%%tab" in h.chunk.text or "{.python .input}" in h.chunk.text for h in hits)


# (the learner's turn before, the question, the section whose passage must come first)
CONVERSATIONS = [
    # a new question: searched after the comparison, it found the GRU section first
    (
        "What is the difference between LSTM and GRU?",
        "What does the forget gate in an LSTM do?",
        "LSTM: Gates and the Cell State",
    ),
    # follow-ups: they keep the topic of the turn before
    ("what is hnsw", "which parameter do i tune at query time?", "HNSW"),
    ("what is an lstm?", "what does its forget gate do?", "LSTM: Gates and the Cell State"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("before", "question", "section"), CONVERSATIONS)
def test_a_new_question_leaves_the_last_topic_and_a_follow_up_keeps_it(
    demo_index: tuple[IndexReader, IngestReport], before: str, question: str, section: str
) -> None:
    reader, _ = demo_index
    history = [Message("user", before), Message("assistant", "An answer [1].")]
    hits = reader.search(retrieval_query(question, history, reader), k=ANSWER_PASSAGES)
    assert hits[0].chunk.heading_path[-1] == section, [h.chunk.heading_path for h in hits]
