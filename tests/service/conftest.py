"""Service fixtures: a fake generator, and apps over a small fake-embedded collection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from indexes import ChunkerParams
from ingest import Pipeline
from service.app import create_app
from service.errors import Overloaded
from service.generation.base import GenerationParams, Message
from service.settings import Settings
from tests.conftest import FakeEmbedder

NOTES = {
    "adam.md": "# Adam\n\nAdam keeps an exponential moving average of gradients and of squared "
    "gradients. Bias correction divides each average by one minus beta to the power t.\n",
    "lora.md": "# LoRA\n\nLoRA freezes the pretrained weights and trains two low-rank matrices "
    "A and B. The rank r is usually between 4 and 64.\n",
}


class FakeGenerator:
    """Replies with a scripted answer, piece by piece; remembers the prompts it saw."""

    model_name = "fake-generator"

    def __init__(self, reply: str = "Adam divides by one minus beta to the power t [1].") -> None:
        self.reply = reply
        self.prompts: list[list[Message]] = []
        self.delay = 0.0
        self.busy = False
        self.active = 0

    @property
    def queue_depth(self) -> int:
        return self.active

    async def stream(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[str]:
        if self.busy:
            raise Overloaded("the generation queue is full")
        self.prompts.append(messages)
        self.active += 1
        try:
            for word in self.reply.split(" "):
                await asyncio.sleep(self.delay)
                yield word + " "
        finally:
            self.active -= 1

    async def aclose(self) -> None:
        return None


def ingest_notes(
    data_dir: Path, collection: str = "default", notes: dict[str, str] = NOTES
) -> None:
    folder = data_dir.parent / f"notes-{collection}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in notes.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    params = ChunkerParams(chunk_tokens=200, overlap_tokens=32)
    Pipeline(FakeEmbedder(), params).run([folder], data_dir / collection)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Rate limits are off here (some tests ask many questions); test_limits.py tests them.
    return Settings(
        data_dir=tmp_path / "collections",
        abstain_threshold=0.2,
        answer_strategy="auto",
        rate_limit_per_minute=0,
    )


@pytest.fixture
def fake_generator() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture
def client(settings: Settings, fake_generator: FakeGenerator) -> Iterator[TestClient]:
    ingest_notes(settings.data_dir)
    app = create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as test_client:
        yield test_client


ADMIN_KEY = "admin-key-0123456789abcdef"
ASK_KEY = "ask-key-0123456789abcdef"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
AS_ASKER = {"Authorization": f"Bearer {ASK_KEY}"}


@pytest.fixture
def admin_settings(settings: Settings) -> Settings:
    """The test settings with the document endpoints on, an admin key and an ask key."""
    return settings.model_copy(
        update={
            "admin_api": True,
            "admin_api_keys": [SecretStr(ADMIN_KEY)],
            "ask_api_keys": [SecretStr(ASK_KEY)],
        }
    )


@pytest.fixture
def admin_client(admin_settings: Settings, fake_generator: FakeGenerator) -> Iterator[TestClient]:
    ingest_notes(admin_settings.data_dir)
    app = create_app(admin_settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as test_client:
        yield test_client
