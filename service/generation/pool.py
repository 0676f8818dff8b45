"""The service's generator, and the others that courses name, each built once on first use.

A course's ``course.json`` may name its own ``model``: a packaged GGUF for the embedded
generator (loaded beside the default one: each model has its own worker and memory, and
on a small machine they share the cores), or the model name an OpenAI-compatible server
is asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from service.generation.base import Generator


class ModelPool:
    def __init__(self, default_name: str, default: Generator, build: Callable[[str], Generator]):
        self._default_name = default_name
        self._built: dict[str, Generator] = {default_name: default}
        self._build = build
        self._lock = threading.Lock()

    def get(self, name: str) -> Generator:
        """The generator of model ``name``, built now if no course used it yet (blocking)."""
        with self._lock:
            if name not in self._built:
                self._built[name] = self._build(name)
            return self._built[name]

    @property
    def queue_depth(self) -> int:
        return sum(g.queue_depth for g in list(self._built.values()))

    async def aclose_others(self) -> None:
        """Close what was built for courses; the default generator's owner closes it."""
        for name, generator in list(self._built.items()):
            if name != self._default_name:
                await generator.aclose()
