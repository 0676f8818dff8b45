"""Giving memory back to the system once an ingestion is done.

CPython frees a run's chunks and vectors to the C allocator, and glibc's malloc keeps
freed heap pages for later use: after a 20 MB file a long-running service would hold
hundreds of MB it no longer needs.  ``malloc_trim`` asks glibc to return them; on
other C libraries there is nothing to call, and nothing is done.
"""

from __future__ import annotations

import ctypes
import functools
import gc
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_memory() -> None:
    """Collect cycles, then hand the allocator's free pages back to the system."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
