"""Extractive answers: the best sentences of the passages, each cited once."""

from __future__ import annotations

from service.extractive import best_sentences, compose
from tests.conftest import FakeEmbedder

SHARED = "The forget gate decides what the cell state drops."


def test_a_sentence_shared_by_overlapping_chunks_is_answered_once() -> None:
    passages = [
        f"{SHARED} The input gate adds new values.",
        f"Gradients flow through the cell. {SHARED}",  # the next chunk overlaps the first
    ]
    extracts = best_sentences(FakeEmbedder(), "What does the forget gate drop?", passages)
    texts = [e.text for e in extracts]
    assert texts.count(SHARED) == 1
    assert extracts[0].text == SHARED and extracts[0].passage == 1  # the better-ranked passage
    assert compose(extracts).count("forget gate") == 1
