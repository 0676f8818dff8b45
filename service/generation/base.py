"""The generator seam: chat messages in, a stream of text pieces out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = field(default_factory=tuple)


class Generator(Protocol):
    """A chat model. ``stream`` yields text pieces as they are produced.

    Leaving the iteration early (``aclose``, or the task being cancelled,
    as when an HTTP client disconnects) must stop the generation.
    Raises ``Overloaded`` when its queue is full, ``GeneratorUnavailable``
    or ``GeneratorTimeout`` when the backend fails.
    """

    @property
    def model_name(self) -> str: ...

    def stream(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...

    @property
    def queue_depth(self) -> int:
        """Requests waiting for or holding the model right now."""
        ...
