"""Shared fixtures: isolation of settings, a deterministic fake embedder, the real one,
and the demo corpus indexed with it."""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pytest

if TYPE_CHECKING:
    from indexes import IndexReader
    from ingest import IngestReport

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"
DEMO_CORPUS = PROJECT / "corpus"

_WORD = re.compile(r"\w+")


def pdf_bytes(*pages: str) -> bytes:
    """A real PDF with one page of text per argument (fpdf2, Helvetica)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for body in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, body)
    return bytes(pdf.output())


def poison_pdf(pages: int = 20, operators: int = 900_000) -> bytes:
    """A small PDF (about 190 KB for 20 pages) that pypdf takes 16-24 s a page to read:
    each page's content stream deflates to 6 MB of ``(a) Tj``, under pypdf's own limits
    (issue 16).  Written by hand: one font, the pages, a correct cross-reference table."""
    stream = zlib.compress(b"BT /F1 12 Tf 72 720 Td " + b"(a) Tj " * operators + b"ET", 9)
    font = 3 + 2 * pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages)).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
    ]
    for page in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * page, font)
        )
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream"
                       % (len(stream), stream))  # fmt: skip
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return pdf_file(objects)


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (numbered from 1, the catalogue first), with its xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


class FakeEmbedder:
    """Hashes words into a small vector: deterministic, instant, and counts its batches.

    Texts sharing words get similar vectors, which is enough to test logic;
    retrieval quality is tested with the real model.
    """

    name = "fake-hashing-embedder"
    backend = "fake"
    dimension = 512
    max_tokens = 254

    def __init__(self) -> None:
        self.batches = 0
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.batches += 1
        self.embedded += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % self.dimension
                out[row, bucket] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) + t.count(".") for t in texts]


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's SYLLABUS_* variables, .env or data folder."""
    for name in list(os.environ):
        if name.startswith("SYLLABUS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SYLLABUS_DATA_DIR", str(tmp_path / "collections"))
    # The tests were written for, and stay fast with, the smallest packaged model; a test
    # of another model asks for it.
    monkeypatch.setenv("SYLLABUS_MODEL", "smollm2-135m")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> Iterator[object]:
    from service.settings import Settings

    embedder = Settings().embedder()  # the configured backend, as the service uses
    embedder.load()
    yield embedder


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"these tests read ../shared in place, and it is absent at {SHARED}")
    return SHARED


def build_index(
    embedder: object, paths: list[Path], index: Path
) -> tuple[IndexReader, IngestReport]:
    """Ingest ``paths`` into a new index with the default settings."""
    from indexes import IndexReader
    from ingest import Pipeline
    from service.settings import Settings

    settings = Settings()
    report = Pipeline(embedder, settings.chunker()).run(paths, index)  # type: ignore[arg-type]
    return IndexReader(index, embedder, settings.fusion()), report  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def demo_index(
    real_embedder: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[IndexReader, IngestReport]:
    """``corpus/`` indexed with the real embedder, once per session; copy it to change it."""
    return build_index(real_embedder, [DEMO_CORPUS], tmp_path_factory.mktemp("demo") / "index")
