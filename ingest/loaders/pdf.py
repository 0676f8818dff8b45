"""PDF (pypdf, BSD-licensed): text page by page, so every passage keeps its page number."""

from __future__ import annotations

import io
import logging
import re
from pathlib import PurePath

from ingest.documents import Block, Document, LoadError, require_text

_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SPACE = re.compile(r"[ \t\r\f\v]+")


def _paragraphs(page_text: str) -> list[str]:
    text = _HYPHEN_BREAK.sub(r"\1\2", page_text.replace("\u00ad\n", ""))
    paragraphs = []
    for part in _PARAGRAPH_BREAK.split(text):
        joined = _SPACE.sub(" ", part.replace("\n", " ")).strip()
        if joined:
            paragraphs.append(joined)
    return paragraphs


def _title(reader: object, first_page: list[str], name: str) -> str:
    metadata = getattr(reader, "metadata", None)
    title = str(getattr(metadata, "title", "") or "").strip() if metadata else ""
    if title and not title.lower().startswith(("microsoft word", "untitled")):
        return title
    if first_page:
        return first_page[0][:120]
    return PurePath(name).stem


def load_pdf(data: bytes, name: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PyPdfError

    # pypdf reports recoverable oddities through logging; they are not our errors.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF (a password is needed)")
        pages = [_paragraphs(page.extract_text() or "") for page in reader.pages]
    except LoadError:
        raise
    except LimitReachedError as exc:
        # pypdf stops decompressing a stream past its limit (75 MB): a compression bomb.
        raise LoadError(f"PDF stream too large when decompressed: {exc}") from None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise LoadError(f"corrupt PDF: {exc}") from None
    if not any(pages):
        raise LoadError("no extractable text in the PDF (scanned images?)")
    blocks = []
    offset = 0
    for number, paragraphs in enumerate(pages, start=1):
        for paragraph in paragraphs:
            blocks.append(Block(paragraph, offset, offset + len(paragraph), page=number))
            offset += len(paragraph) + 2
    return require_text(Document(title=_title(reader, pages[0], name), blocks=blocks))
