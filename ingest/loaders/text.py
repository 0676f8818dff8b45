"""Plain text: paragraphs separated by blank lines."""

from __future__ import annotations

import re
from pathlib import PurePath

from ingest.documents import Block, Document, decode_text, require_text

_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\n[ \t]*\n|\s*\Z)", re.DOTALL)


def load_text(data: bytes, name: str) -> Document:
    source = decode_text(data)
    blocks = [Block(m.group(0), m.start(), m.end()) for m in _PARAGRAPH.finditer(source)]
    title = PurePath(name).stem.replace("-", " ").replace("_", " ")
    return require_text(Document(title=title, blocks=blocks))
