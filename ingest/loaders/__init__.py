"""Loaders by file type: a plain registry from suffix to a function of the file's bytes.

Heavy parsers (pypdf, lxml) are imported by their loader on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.documents import Document, LoadError

Loader = Callable[[bytes, str], Document]


def _markdown(data: bytes, name: str) -> Document:
    from ingest.loaders.markdown import load_markdown

    return load_markdown(data, name)


def _text(data: bytes, name: str) -> Document:
    from ingest.loaders.text import load_text

    return load_text(data, name)


def _html(data: bytes, name: str) -> Document:
    from ingest.loaders.html import load_html

    return load_html(data, name)


def _pdf(data: bytes, name: str) -> Document:
    from ingest.loaders.pdf import load_pdf

    return load_pdf(data, name)


LOADERS: dict[str, Loader] = {
    ".md": _markdown,
    ".markdown": _markdown,
    ".txt": _text,
    ".text": _text,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
}


def supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


def load(path: Path, data: bytes) -> Document:
    """Parse ``data`` (the bytes of ``path``) with the loader for its type."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        kinds = ", ".join(sorted(LOADERS))
        raise LoadError(f"unsupported file type {path.suffix or '(none)'!r}; supported: {kinds}")
    if not data.strip():
        raise LoadError("empty file")
    return loader(data, path.name)
