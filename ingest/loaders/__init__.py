"""Loaders by file type: a plain registry from suffix to a function of the file's bytes.

The registry is the one list of the types Syllabus reads: ingestion and uploads take it
from here.

Heavy parsers (pypdf, lxml) are imported by their loader on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class FileType:
    load: Loader
    signature: bytes | None = None  # what a binary file starts with; None: UTF-8 text


_PDF = FileType(_pdf, signature=b"%PDF-")
FILE_TYPES: dict[str, FileType] = {
    ".md": FileType(_markdown),
    ".markdown": FileType(_markdown),
    ".txt": FileType(_text),
    ".text": FileType(_text),
    ".html": FileType(_html),
    ".htm": FileType(_html),
    ".pdf": _PDF,
}


def supported(path: Path) -> bool:
    return path.suffix.lower() in FILE_TYPES


def supported_list() -> str:
    """The supported suffixes, for a message."""
    return ", ".join(sorted(FILE_TYPES))


def load(path: Path, data: bytes) -> Document:
    """Parse ``data`` (the bytes of ``path``) with the loader for its type."""
    kind = FILE_TYPES.get(path.suffix.lower())
    if kind is None:
        raise LoadError(
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {supported_list()}"
        )
    if not data.strip():
        raise LoadError("empty file")
    return kind.load(data, path.name)
