"""What a loader produces: a title and structured blocks of text."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


class LoadError(Exception):
    """A file that cannot be ingested; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class Block:
    """A run of text (a paragraph, list, table or code block) in one section.

    ``start``/``end`` are offsets into the source: the raw file for Markdown
    and plain text, the extracted text for HTML and PDF.
    """

    text: str
    start: int
    end: int
    heading_path: tuple[str, ...] = ()
    page: int | None = None


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    blocks: list[Block]


def document_id(path: str) -> str:
    """The id of the document ingested from ``path``: it follows the file, not its content,
    so a new version keeps it, and a file that failed has the id it would have."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]


def decode_text(data: bytes) -> str:
    """Bytes of a text file as ``str``, refusing binary content with a clear reason."""
    if b"\x00" in data[:8192]:
        raise LoadError("binary content (NUL bytes), not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not valid UTF-8 text (byte {exc.start})") from None


def require_text(document: Document) -> Document:
    if not any(block.text.strip() for block in document.blocks):
        raise LoadError("no text to index")
    return document
