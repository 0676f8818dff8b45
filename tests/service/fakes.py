"""A scripted generator, and a small collection embedded with the fake embedder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from indexes import ChunkerParams
from ingest import Pipeline
from service.errors import Overloaded
from service.generation.base import GenerationParams, Message
from tests.fakes import FakeEmbedder

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
        self.confidence: float | None = None

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

    async def first_token_probability(self, messages: list[Message]) -> float | None:
        """``confidence``: how sure the scripted model is of its reply (None: it cannot tell)."""
        return self.confidence

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
