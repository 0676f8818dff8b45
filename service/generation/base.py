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

    async def first_token_probability(self, messages: list[Message]) -> float | None:
        """The probability of the most likely first token of the reply to ``messages``:
        how sure the model is of how its answer begins. ``None`` where the backend cannot
        tell (a server that gives no log-probabilities)."""
        ...

    async def aclose(self) -> None: ...

    @property
    def queue_depth(self) -> int:
        """Requests waiting for or holding the model right now."""
        ...
