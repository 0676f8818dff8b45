from __future__ import annotations

from pathlib import Path

import pytest

from ingest import LoadError
from ingest.loaders import load
from tests.pdfs import pdf_bytes

D2L_STYLE = """# Attention Pooling

:label:`sec_attention-pooling`

Attention pooling weights values by similarity :cite:`Nadaraya.1964`.
See :numref:`fig_qkv` and the [kernel article](https://example.org/k).

```{.python .input}
%%tab pytorch
import torch
print(torch.ones(3))
```

## Kernels

![A Gaussian kernel](../img/gauss.svg)
:width:`400px`

:begin_tab:`mxnet`
MXNet users call npx here.
:end_tab:

:begin_tab:`pytorch`
PyTorch users call torch here.
:end_tab:

```python
def gaussian(x):
    return exp(-x ** 2 / 2)
```
"""


def test_markdown_keeps_prose_and_heading_path_and_drops_book_markup() -> None:
    doc = load(Path("pooling.md"), D2L_STYLE.encode())
    text = "\n".join(b.text for b in doc.blocks)
    assert doc.title == "Attention Pooling"
    assert "weights values by similarity." in text
    assert "See the figure and the kernel article." in text
    assert "A Gaussian kernel" in text
    assert "PyTorch users call torch here." in text
    for markup in (":label:", ":cite:", "%%tab", "print(torch.ones", "MXNet users", ":width:"):
        assert markup not in text
    code = next(b for b in doc.blocks if "def gaussian" in b.text)
    assert code.heading_path == ("Attention Pooling", "Kernels")


def test_markdown_spans_point_into_the_raw_file() -> None:
    raw = "# T\n\nFirst paragraph here.\n\nSecond one.\n"
    doc = load(Path("t.md"), raw.encode())
    second = doc.blocks[1]
    assert raw[second.start : second.end] == "Second one."


def test_html_drops_scripts_styles_and_navigation() -> None:
    html = b"""<html><head><title>Backprop notes</title><style>p{color:red}</style></head>
    <body><nav><a href="/">Home</a> | <a href="/x">Menu item</a></nav>
    <script>var secret = 1;</script>
    <h1>Backpropagation</h1><p>The chain rule gives every gradient.</p>
    <h2>Vanishing gradients</h2><ul><li>Sigmoids saturate.</li><li>Use ReLU.</li></ul>
    <footer>Copyright footer</footer></body></html>"""
    doc = load(Path("page.html"), html)
    text = " ".join(b.text for b in doc.blocks)
    assert doc.title == "Backprop notes"
    assert "chain rule" in text and "Use ReLU." in text
    assert "secret" not in text and "Menu item" not in text and "footer" not in text
    relu = next(b for b in doc.blocks if b.text == "Use ReLU.")
    assert relu.heading_path == ("Backpropagation", "Vanishing gradients")


def test_html_keeps_leaf_blocks_in_order_and_only_their_text() -> None:
    """The rules the streaming reader keeps from the tree it replaced (compared on 2,900
    real pages and 25,000 generated ones: the same blocks)."""
    html = b"""<html><head><title> Notes  </title></head><body>
    <div>Loose container text<p>First <b>bold</b><!-- c -->word&nbsp;</p>tail</div>
    <div role="navigation"><p>Skip me</p></div><div role="main"><p>Keep me</p></div>
    <h2>Head <span>two</span></h2><pre>  code\n\n    indented\n</pre>
    <p>Kanji<ruby>X<rt>annotation</rt></ruby> end</p><section><h3>Inner</h3>after</section>
    </body></html>"""
    doc = load(Path("page.html"), html)
    assert doc.title == "Notes"
    assert [(b.text, b.heading_path) for b in doc.blocks] == [
        ("First bold word", ()),
        ("Keep me", ()),
        ("  code\n\n    indented", ("Head two",)),
        ("Kanji X end", ("Head two",)),
    ]
    offsets = [(b.start, b.end) for b in doc.blocks]
    assert offsets[:2] == [(0, 15), (17, 24)]  # blocks joined by a blank line


def test_html_without_a_body_or_title_still_has_its_blocks() -> None:
    doc = load(Path("my-page.html"), b"<h1>Only</h1><p>Text.</p>")
    assert doc.title == "Only" and [b.text for b in doc.blocks] == ["Text."]
    doc = load(Path("my-page.html"), b"<p>Text.</p>")
    assert doc.title == "my page"


def _pdf(path: Path, pages: list[str]) -> Path:
    path.write_bytes(pdf_bytes(*pages))
    return path


def test_pdf_keeps_page_numbers(tmp_path: Path) -> None:
    pages = [f"Page {n} explains topic number {n} in a full sentence." for n in (1, 2, 3)]
    path = _pdf(tmp_path / "three.pdf", pages)
    doc = load(path, path.read_bytes())
    by_page = {b.page: b.text for b in doc.blocks}
    assert sorted(by_page) == [1, 2, 3]
    assert "topic number 2" in by_page[2]


def test_text_splits_paragraphs() -> None:
    doc = load(Path("notes.txt"), b"One line.\nSame paragraph.\n\n\nNext paragraph.\n")
    assert [b.text for b in doc.blocks] == ["One line.\nSame paragraph.", "Next paragraph."]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.md", b"  \n\n", "empty file"),
        ("blob.txt", b"\x00\x01\x02binary", "binary content"),
        ("latin.txt", "caf\xe9".encode("latin-1"), "not valid UTF-8"),
        ("broken.pdf", b"%PDF-1.7\nthis is not really a pdf", "corrupt PDF"),
        ("slides.pptx", b"PK\x03\x04", "unsupported file type '.pptx'"),
        ("only-code.md", b"```{.python .input}\nx = 1\n```\n", "no text to index"),
    ],
)
def test_bad_files_fail_with_a_reason(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(LoadError, match=reason):
        load(Path(name), data)
