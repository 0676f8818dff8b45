"""Render the Markdown quantization note into a PDF for the demo corpus.

Reads scripts/notes/quantization.md and writes corpus/quantization.pdf with
fpdf2: the H1 becomes a large title (and the PDF metadata title), ``##`` and
``###`` become bold headings, paragraphs and bullets are wrapped text, and
fenced code blocks are set in Courier. Pages are A5 with page numbers in the
footer. Only the core Helvetica and Courier fonts are used, so the note must
contain latin-1 characters only. A fixed creation date keeps the output
byte-for-byte reproducible across runs.

Run from the repository root:

    python scripts/make_corpus_pdf.py
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = REPO_ROOT / "scripts" / "notes" / "quantization.md"
OUTPUT = REPO_ROOT / "corpus" / "quantization.pdf"
CREATION_DATE = datetime(2024, 1, 1, tzinfo=UTC)
A5_MM = (148.0, 210.0)  # given explicitly; fpdf2 warns when "A5" is named

BODY_SIZE = 11.0
LINE_HEIGHT = 5.6
CODE_SIZE = 8.5
CODE_LINE_HEIGHT = 4.4
BULLET_INDENT = 6.0

_NUMBERED = re.compile(r"^(\d+)\.\s+(.*)$")


@dataclass
class Block:
    """One rendered unit of the note: a heading, paragraph, list item or code."""

    kind: str  # "h1", "h2", "h3", "para", "bullet", "number", "code"
    text: str
    marker: str = ""


def parse_markdown(source: str) -> list[Block]:
    """Split a simple Markdown document into blocks."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    lines = source.splitlines()

    def flush() -> None:
        if paragraph:
            blocks.append(Block("para", " ".join(paragraph)))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            code: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            blocks.append(Block("code", "\n".join(code)))
        elif not stripped:
            flush()
        elif stripped.startswith("### "):
            flush()
            blocks.append(Block("h3", stripped[4:]))
        elif stripped.startswith("## "):
            flush()
            blocks.append(Block("h2", stripped[3:]))
        elif stripped.startswith("# "):
            flush()
            blocks.append(Block("h1", stripped[2:]))
        elif stripped.startswith("- "):
            flush()
            blocks.append(Block("bullet", stripped[2:], "-"))
        elif match := _NUMBERED.match(stripped):
            flush()
            blocks.append(Block("number", match.group(2), f"{match.group(1)}."))
        elif (
            blocks
            and blocks[-1].kind in ("bullet", "number")
            and not paragraph
            and line.startswith(" ")
        ):
            blocks[-1].text += " " + stripped  # continuation of a list item
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return blocks


def inline(text: str) -> str:
    """Drop inline Markdown markup that the core fonts cannot show."""
    return text.replace("`", "").replace("**", "")


class NotePDF(FPDF):
    """A5 document with a centred page number in the footer."""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 9)
        self.set_text_color(110, 110, 110)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def heading(pdf: FPDF, text: str, size: float, space_before: float) -> None:
    """Write a bold heading, moving to a new page if it would be orphaned."""
    if pdf.will_page_break(space_before + 3 * LINE_HEIGHT):
        pdf.add_page()
    elif pdf.get_y() > pdf.t_margin + 1:
        pdf.ln(space_before)
    pdf.set_font("Helvetica", "B", size)
    pdf.multi_cell(0, size * 0.5, inline(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)


def list_item(pdf: FPDF, marker: str, text: str) -> None:
    """Write a bullet or numbered item with a hanging indent."""
    pdf.set_font("Helvetica", "", BODY_SIZE)
    pdf.set_x(pdf.l_margin + 1.5)
    pdf.cell(BULLET_INDENT - 1.5, LINE_HEIGHT, marker)
    pdf.multi_cell(
        pdf.epw - BULLET_INDENT,
        LINE_HEIGHT,
        inline(text),
        align="L",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(0.8)


def code_block(pdf: FPDF, code: str) -> None:
    """Write a fenced code block in Courier on a light grey background."""
    pdf.ln(1)
    pdf.set_font("Courier", "", CODE_SIZE)
    pdf.set_fill_color(240, 240, 240)
    pdf.multi_cell(0, CODE_LINE_HEIGHT, code, fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2.5)


def render(blocks: list[Block]) -> NotePDF:
    """Lay out the parsed blocks and return the finished document."""
    title = next((b.text for b in blocks if b.kind == "h1"), "Untitled note")
    pdf = NotePDF(format=A5_MM, unit="mm")
    pdf.set_margins(16, 16, 16)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(title)
    pdf.set_author("Syllabus demo corpus")
    pdf.set_creation_date(CREATION_DATE)
    pdf.add_page()

    previous = ""
    for block in blocks:
        if block.kind == "h1":
            heading(pdf, block.text, 20, 0)
            pdf.ln(2)
        elif block.kind == "h2":
            heading(pdf, block.text, 14, 4)
        elif block.kind == "h3":
            heading(pdf, block.text, 12, 2.5)
        elif block.kind in ("bullet", "number"):
            if previous not in ("bullet", "number"):
                pdf.ln(0.5)
            list_item(pdf, block.marker, block.text)
        elif block.kind == "code":
            code_block(pdf, block.text)
        else:
            if previous in ("bullet", "number"):
                pdf.ln(1.5)
            pdf.set_font("Helvetica", "", BODY_SIZE)
            pdf.multi_cell(
                0, LINE_HEIGHT, inline(block.text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
            pdf.ln(2.5)
        previous = block.kind
    return pdf


def main() -> None:
    """Build corpus/quantization.pdf from the Markdown source."""
    source = SOURCE.read_text(encoding="utf-8")
    try:
        source.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise SystemExit(f"{SOURCE}: non latin-1 character at {exc.start}") from exc
    pdf = render(parse_markdown(source))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(OUTPUT))
    print(f"Wrote {OUTPUT.relative_to(REPO_ROOT)}: {pdf.pages_count} pages")


if __name__ == "__main__":
    main()
