"""HTML: the page's prose, without scripts, styles, navigation or page chrome."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from ingest.documents import Block, Document, LoadError, decode_text, require_text

_CHROME = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form",
           "template", "svg", "iframe", "button", "select")  # fmt: skip
_BLOCKS = ("p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption", "caption",
           "div", "section", "article", "main")  # fmt: skip
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_SPACE = re.compile(r"\s+")


def _ancestors(elements: Sequence[Any]) -> set[int]:
    """Ids of every ancestor of ``elements``, each reached once: linear even in a page of
    deeply nested tags (asking each element for its descendants would be quadratic)."""
    seen: set[int] = set()
    for element in elements:
        parent = element.parent
        while parent is not None and id(parent) not in seen:
            seen.add(id(parent))
            parent = parent.parent
    return seen


def load_html(data: bytes, name: str) -> Document:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data), "lxml")
    for element in soup.find_all(_CHROME):
        element.decompose()
    for element in soup.find_all(True, attrs={"role": ["navigation", "banner", "contentinfo"]}):
        element.decompose()
    root = soup.body or soup
    if root is None:
        raise LoadError("no HTML body")
    headings: list[str] = []
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    blocks: list[Block] = []
    offset = 0
    elements = root.find_all([*_HEADINGS, *_BLOCKS])
    containers = _ancestors(elements)
    for element in elements:
        if element.name not in _HEADINGS and id(element) in containers:
            continue  # a container: its leaf blocks are visited on their own
        if element.name == "pre":
            text = element.get_text().strip("\n")
        else:
            text = _SPACE.sub(" ", element.get_text(" ", strip=True))
        if not text:
            continue
        if element.name in _HEADINGS:
            level = int(element.name[1])
            del headings[level - 1 :]
            headings.append(text)
            title = title or text
            continue
        blocks.append(Block(text, offset, offset + len(text), tuple(headings)))
        offset += len(text) + 2  # blocks are joined by a blank line
    title = title or PurePath(name).stem.replace("-", " ").replace("_", " ")
    return require_text(Document(title=title, blocks=blocks))
