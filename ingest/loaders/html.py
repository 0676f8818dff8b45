"""HTML: the page's prose, without scripts, styles, navigation or page chrome.

The page is read as a stream of parser events (lxml's HTML parser with a target, the
parser BeautifulSoup drove here before) and no tree is built: a page of a million
``<p>`` paragraphs holds its paragraphs' text in memory, not a million elements
(2.4 GB for 9.9 MB before; BENCHMARKS.md).  The rules are the tree's, so ordinary pages
give the same blocks as before:

- chrome elements (scripts, styles, navigation, headers, footers, forms...) and elements
  whose ``role`` is navigation, banner or contentinfo are dropped with what they hold;
- headings and leaf blocks inside ``<body>`` (or the whole page without one) become
  blocks in document order; a block that holds another block or a heading is only a
  container, and its own loose text is not kept;
- a block's text is its strings, each stripped, joined by one space (a ``<pre>`` keeps
  its text as written); comments and ruby annotations (``<rt>``, ``<rp>``) are not text.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal

from ingest.documents import Block, Document, LoadError, decode_text, require_text

_CHROME = frozenset(("script", "style", "noscript", "nav", "header", "footer", "aside", "form",
                     "template", "svg", "iframe", "button", "select"))  # fmt: skip
_CHROME_ROLES = frozenset(("navigation", "banner", "contentinfo"))
_BLOCKS = frozenset(("p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption",
                     "caption", "div", "section", "article", "main"))  # fmt: skip
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_RUBY = frozenset(("rt", "rp"))  # their strings are annotations, not the sentence's text
_SPACE = re.compile(r"\s+")

Kind = Literal["heading", "block", "title", "other", "chrome"]


@dataclass(slots=True, eq=False)  # compared by identity: two open <p> may look alike
class _Element:
    """An open element, and what it collects while it is open."""

    name: str
    kind: Kind
    in_body: bool = False
    parts: list[str] | None = None  # its strings, while they may still be needed
    container: bool = False  # holds a heading or a block
    text: str | None = None  # set when it closes
    done: bool = False


def _joined(parts: list[str]) -> str:
    return " ".join(stripped for part in parts if (stripped := part.strip()))


@dataclass
class _Reader:
    """lxml parser target: turns start, end and data events into blocks as they complete."""

    title: str = ""
    blocks: list[Block] = field(default_factory=list)
    _stack: list[_Element] = field(default_factory=list)
    _open: Counter[str] = field(default_factory=Counter)
    _data: list[str] = field(default_factory=list)
    _collecting: list[_Element] = field(default_factory=list)
    _pending: deque[_Element] = field(default_factory=deque)  # in document order
    _outside: list[_Element] = field(default_factory=list)  # before or without a <body>
    _chrome: int = 0
    _ruby: int = 0
    _body: _Element | None = None  # the first <body>: only what it holds counts
    _body_open: bool = False
    _title_seen: bool = False
    first_heading: str = ""
    _headings: list[str] = field(default_factory=list)
    _heading_path: tuple[str, ...] = ()
    _offset: int = 0

    # lxml's target interface
    def start(self, tag: str, attrib: dict[str, str], nsmap: object = None) -> None:
        self._flush()
        self._open[tag] += 1
        if self._chrome or tag in _CHROME or attrib.get("role") in _CHROME_ROLES:
            self._chrome += 1
            self._stack.append(_Element(tag, "chrome"))
            return
        element = _Element(tag, self._kind(tag), in_body=self._body_open)
        if tag == "body" and self._body is None:
            self._body, self._body_open = element, True
            self._outside.clear()  # what came before the body is not the page's text
        if tag in _RUBY:
            self._ruby += 1
        if element.kind in ("heading", "block"):
            self._mark_containers()
            if element.in_body:
                self._pending.append(element)
            elif self._body is None:
                self._outside.append(element)
            else:
                element.kind = "other"  # after the body: not the page's text either
        if element.kind != "other":
            element.parts = []
            self._collecting.append(element)
        self._stack.append(element)

    def end(self, tag: str) -> None:
        self._flush()
        if not self._open[tag]:
            return  # nothing open by that name (as BeautifulSoup did: ignore it)
        while self._stack:
            element = self._pop()
            if element.name == tag:
                break
        self._emit()

    def data(self, text: str) -> None:
        self._data.append(text)

    def comment(self, text: str) -> None:
        self._flush()

    def pi(self, target: str, data: str) -> None:
        self._flush()

    def doctype(self, *_: object) -> None:
        self._flush()

    def close(self) -> None:
        self._flush()
        while self._stack:
            self._pop()
        self._emit()
        if self._body is None:  # no <body>: every element of the page counts
            self._pending.extend(self._outside)
            self._emit()

    # the rules
    def _kind(self, tag: str) -> Kind:
        if tag in _HEADINGS:
            return "heading"
        if tag in _BLOCKS:
            return "block"
        if tag == "title" and not self._title_seen:
            self._title_seen = True
            return "title"
        return "other"

    def _mark_containers(self) -> None:
        """Every open element now holds a heading or a block.  Walking up stops at one
        already marked (its ancestors were marked with it), so each is marked once."""
        for element in reversed(self._stack):
            if element.container:
                break
            element.container = True
            if element.kind == "block":  # a container's own text is never kept
                element.parts = None
                self._collecting.remove(element)

    def _flush(self) -> None:
        """End the current string, as the tree ends one at every tag or comment."""
        if not self._data:
            return
        text = "".join(self._data)
        self._data = []
        if self._chrome or self._ruby:
            return
        for element in self._collecting:
            if element.parts is not None:
                element.parts.append(text)

    def _pop(self) -> _Element:
        element = self._stack.pop()
        self._open[element.name] -= 1
        if element.kind == "chrome":
            self._chrome -= 1
            return element
        if element.name in _RUBY:
            self._ruby -= 1
        if element is self._body:
            self._body_open = False
        if element.parts is not None:
            self._collecting.remove(element)
            if element.name == "pre":
                element.text = "".join(element.parts).strip("\n")
            elif element.kind == "title":
                self.title = _joined(element.parts)
            else:
                element.text = _SPACE.sub(" ", _joined(element.parts))
            element.parts = None
        element.done = True
        return element

    @staticmethod
    def _skipped(element: _Element) -> bool:
        """A block that holds blocks: known for good once it is, so a page-wide wrapper
        never holds back the blocks after it until the page ends."""
        return element.kind == "block" and element.container

    def _emit(self) -> None:
        """Turn the finished elements at the head of the document order into blocks."""
        while self._pending and (self._pending[0].done or self._skipped(self._pending[0])):
            element = self._pending.popleft()
            if not element.text or self._skipped(element):
                continue
            if element.kind == "heading":
                level = int(element.name[1])
                del self._headings[level - 1 :]
                self._headings.append(element.text)
                self._heading_path = tuple(self._headings)  # shared by the blocks below it
                self.first_heading = self.first_heading or element.text
                continue
            text = element.text
            self.blocks.append(Block(text, self._offset, self._offset + len(text),
                                     self._heading_path))  # fmt: skip
            self._offset += len(text) + 2  # blocks are joined by a blank line


def _read(markup: str | bytes) -> _Reader:
    from lxml import etree

    reader = _Reader()
    encoding = "utf8" if isinstance(markup, bytes) else None
    parser = etree.HTMLParser(target=reader, recover=True, encoding=encoding)
    parser.feed(markup)
    parser.close()
    return reader


def load_html(data: bytes, name: str) -> Document:
    from lxml import etree

    text = decode_text(data).removeprefix("\N{BYTE ORDER MARK}")
    try:
        reader = _read(text)
    except (UnicodeDecodeError, LookupError, etree.ParserError):
        try:  # what lxml refuses as a string it may take as UTF-8 bytes
            reader = _read(text.encode("utf-8"))
        except (UnicodeDecodeError, LookupError, etree.ParserError) as exc:
            raise LoadError(f"not readable as HTML: {exc}") from None
    title = reader.title or reader.first_heading
    title = title or PurePath(name).stem.replace("-", " ").replace("_", " ")
    return require_text(Document(title=title, blocks=reader.blocks))
