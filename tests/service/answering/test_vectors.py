"""One answer embeds each text once: the memo, and an extractive ask through the API."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from fastapi.testclient import TestClient

from service.answering.vectors import SentenceVectors
from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import FakeGenerator, ingest_notes


class RecordingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.texts.extend(texts)
        return super().embed(texts)


def test_the_memo_returns_the_model_vectors_and_asks_once_per_text() -> None:
    inner = RecordingEmbedder()
    memo = SentenceVectors(inner)
    first = memo.embed(["attention weights", "a softmax", "attention weights"])
    again = memo.embed(["a softmax", "the value vectors"])
    assert np.array_equal(first[1], again[0]) and np.array_equal(first[0], first[2])
    assert np.allclose(again[1], FakeEmbedder().embed(["the value vectors"])[0])
    assert inner.texts == ["attention weights", "a softmax", "the value vectors"]
    assert memo.embed([]).shape == (0, inner.dimension)


def test_an_extractive_answer_embeds_no_text_twice(settings: Settings) -> None:
    ingest_notes(settings.data_dir)
    embedder = RecordingEmbedder()
    extractive = settings.model_copy(update={"answer_strategy": "extractive"})
    app = create_app(extractive, embedder=embedder, generator=FakeGenerator())
    with TestClient(app) as client:
        embedder.texts.clear()
        response = client.post(
            "/v1/ask",
            json={"question": "What does LoRA train when it freezes the pretrained weights?"},
        )
    assert response.status_code == 200 and response.json()["mode"] == "extractive"
    assert response.json()["citations"]
    repeated = [text for text, n in Counter(embedder.texts).items() if n > 1]
    assert repeated == []
    assert len(embedder.texts) > 3  # the question and the passages' sentences
