"""Durable writes: a file replaced atomically, and a folder's entries made durable."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable, not only the files' bytes."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: readers see the old file or the new one, whole, and
    the new one is on disk when this returns."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


# Files of a version up to this size are read into memory, larger ones memory-mapped. A
# memory-mapped file truncated on disk while it is served kills the process with SIGBUS
# at the next read of a lost page (issue 16); one read whole is out of harm's way, and a
# course's indexes are far smaller (the demo's: under 1 MB). Past it (a million chunks:
# about 0.8 GB of BM25), sharing pages between replicas is worth that risk.
MAP_ABOVE_BYTES = 256 * 1024 * 1024


def mapped(path: Path, size: int | None = None) -> bool:
    """Whether ``path`` (of ``size`` bytes, if given: a folder's files together) is large
    enough to be memory-mapped rather than read whole."""
    return (path.stat().st_size if size is None else size) > MAP_ABOVE_BYTES
