"""Markdown, including d2lbook markup: notebook cells and directives are removed.

Headings build the heading path of the blocks below them.  Notebook-style
code cells (fences whose info string starts with ``{``, as in
```` ```{.python .input} ````) and ``toc`` fences are dropped so that they do
not drown the prose; ordinary fenced code is kept as a block of its own.
d2lbook directives (``:label:``, ``:cite:``, ``:numref:`` ...) are removed or
turned into words, framework tabs other than PyTorch are skipped, and links
and images keep their text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from ingest.documents import Block, Document, decode_text, require_text

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*(.*)$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_DIRECTIVE_LINE = re.compile(r"^\s*:(label|eqlabel|width|height|maxdepth|numbered|bibliography):")
_TAB_BEGIN = re.compile(r"^\s*:begin_tab:`([^`]*)`")
_TAB_END = re.compile(r"^\s*:end_tab:")
_DROPPED_FENCES = ("{", "toc", "eval_rst")
_KEPT_TABS = {"pytorch", "all"}

_CITE = re.compile(r"\s*:cite[tp]?:`[^`]*`")
_REFERENCE = re.compile(r":(numref|eqref|ref):`([^`]*)`")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_STRONG = re.compile(r"(\*\*|__)(.+?)\1")
_SPACES = re.compile(r"[ \t]{2,}")
_REFERENCE_WORDS = {
    "fig": "the figure",
    "sec": "the section",
    "subsec": "the section",
    "chap": "the chapter",
    "tab": "the table",
    "eq": "the equation",
}


def _reference(match: re.Match[str]) -> str:
    kind, label = match.groups()
    if kind == "eqref":
        return "the equation"
    return _REFERENCE_WORDS.get(label.split("_", 1)[0], "the section")


def clean_inline(text: str) -> str:
    """Markup removed from one paragraph; what a reader would see remains."""
    text = _HTML_COMMENT.sub("", text)
    text = _CITE.sub("", text)
    text = _REFERENCE.sub(_reference, text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _STRONG.sub(r"\2", text)
    lines = (_SPACES.sub(" ", line).rstrip() for line in text.splitlines())
    return "\n".join(line for line in lines if line.strip())


@dataclass
class _Parser:
    """A line-by-line pass that groups kept lines into blocks."""

    headings: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    title: str | None = None
    _lines: list[str] = field(default_factory=list)
    _start: int = 0
    _end: int = 0

    def add_line(self, line: str, start: int) -> None:
        if not self._lines:
            self._start = start
        self._lines.append(line)
        self._end = start + len(line)

    def flush(self, *, code: bool = False) -> None:
        raw = "\n".join(self._lines)
        self._lines = []
        text = raw.strip("\n") if code else clean_inline(raw)
        if text.strip():
            self.blocks.append(Block(text, self._start, self._end, tuple(self.headings)))

    def heading(self, level: int, text: str) -> None:
        self.flush()
        text = clean_inline(text) or text
        del self.headings[level - 1 :]
        self.headings.extend([""] * (level - 1 - len(self.headings)))
        self.headings.append(text)
        if level == 1 and self.title is None:
            self.title = text


def _fence_dropped(info: str) -> bool:
    return info.startswith(_DROPPED_FENCES)


def load_markdown(data: bytes, name: str) -> Document:
    source = decode_text(data)
    parser = _Parser()
    fence: str | None = None
    drop_fence = skip_tab = False
    offset = 0
    for raw_line in source.splitlines(keepends=True):
        line, start = raw_line.rstrip("\r\n"), offset
        offset += len(raw_line)
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                if not drop_fence:
                    parser.flush(code=True)
                fence = None
            elif not drop_fence and not skip_tab:
                parser.add_line(line, start)
            continue
        if (match := _FENCE.match(line)) is not None:
            parser.flush()
            fence, drop_fence = match.group(1), _fence_dropped(match.group(2).strip())
            continue
        if (match := _TAB_BEGIN.match(line)) is not None:
            parser.flush()
            skip_tab = match.group(1).strip() not in _KEPT_TABS
            continue
        if _TAB_END.match(line):
            parser.flush()
            skip_tab = False
            continue
        if skip_tab or _DIRECTIVE_LINE.match(line):
            continue
        if (match := _HEADING.match(line)) is not None:
            parser.heading(len(match.group(1)), match.group(2))
        elif not line.strip():
            parser.flush()
        else:
            parser.add_line(line, start)
    parser.flush(code=fence is not None and not drop_fence)
    title = parser.title or PurePath(name).stem.replace("-", " ").replace("_", " ").title()
    blocks = [
        Block(b.text, b.start, b.end, tuple(h for h in b.heading_path if h)) for b in parser.blocks
    ]
    return require_text(Document(title=title, blocks=blocks))
