"""Failed files are remembered by content hash and not parsed again until they change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from indexes import ChunkerParams
from ingest import Pipeline
from ingest.documents import Document
from ingest.failures import FAILURES_NAME, FailedFile, read_failures
from ingest.parsing import InProcessParser, ParseBudget
from tests.fakes import FakeEmbedder

PARAMS = ChunkerParams(chunk_tokens=120, overlap_tokens=16)
BROKEN = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer garbage"
NOTE = b"# Softmax\n\nSoftmax turns raw scores into probabilities that sum to one.\n"


class CountingParser(InProcessParser):
    """Parses in process and notes the name of every file it is given."""

    def __init__(self) -> None:
        self.parsed: list[str] = []

    def load(self, path: Path, data: bytes) -> Document:
        self.parsed.append(path.name)
        return super().load(path, data)


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(BROKEN)
    (folder / "softmax.md").write_bytes(NOTE)
    return folder


def test_a_failed_file_is_not_parsed_again_until_it_changes(notes: Path, tmp_path: Path) -> None:
    parser = CountingParser()
    pipeline = Pipeline(FakeEmbedder(), PARAMS, parser=parser)
    index = tmp_path / "index"
    first = pipeline.run([notes], index)
    assert parser.parsed == ["broken.pdf", "softmax.md"]
    assert [f.source for f in first.failed] == ["notes/broken.pdf"]
    reason = first.failed[0].reason
    assert "corrupt PDF" in reason

    again = pipeline.run([notes], index)  # a later job, or the next start
    assert parser.parsed == ["broken.pdf", "softmax.md"]  # nothing parsed again
    assert [(f.source, f.reason) for f in again.failed] == [
        ("notes/broken.pdf", f"{reason} (unchanged since it failed: not parsed again)")
    ]
    assert again.version is None  # and nothing published

    (notes / "broken.pdf").write_bytes(BROKEN + b" changed")
    pipeline.run([notes], index)
    assert parser.parsed[-1] == "broken.pdf"

    (notes / "broken.pdf").unlink()
    pipeline.run([notes], index)
    assert read_failures(index) == {}


def test_the_record_names_the_file_its_content_and_why(notes: Path, tmp_path: Path) -> None:
    Pipeline(FakeEmbedder(), PARAMS, parser=InProcessParser()).run([notes], tmp_path / "index")
    (failed,) = read_failures(tmp_path / "index").values()
    assert failed.path == str((notes / "broken.pdf").resolve())
    assert failed.source == "notes/broken.pdf"
    assert failed.sha256 == hashlib.sha256(BROKEN).hexdigest()
    assert "corrupt PDF" in failed.reason and failed.budget is None
    assert len(failed.doc_id) == 16


def test_forgotten_and_skipped_files_leave_the_record(notes: Path, tmp_path: Path) -> None:
    pipeline = Pipeline(FakeEmbedder(), PARAMS, parser=InProcessParser())
    index = tmp_path / "index"
    pipeline.run([notes], index)
    broken = str((notes / "broken.pdf").resolve())
    pipeline.run([notes], index, skip={broken})  # deleted through the API
    assert read_failures(index) == {}
    pipeline.run([notes], index)
    assert set(read_failures(index)) == {broken}
    pipeline.run([tmp_path / "elsewhere.md"], index, forget={broken})
    assert read_failures(index) == {}


def test_an_unreadable_record_means_files_are_tried_again(notes: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    Pipeline(FakeEmbedder(), PARAMS, parser=InProcessParser()).run([notes], index)
    (index / FAILURES_NAME).write_text("{not json")
    parser = CountingParser()
    Pipeline(FakeEmbedder(), PARAMS, parser=parser).run([notes], index)
    assert parser.parsed == ["broken.pdf"]
    recorded = json.loads((index / FAILURES_NAME).read_text())["files"]
    assert [f["source"] for f in recorded] == ["notes/broken.pdf"]


def test_a_file_that_ran_out_of_budget_is_tried_again_under_a_larger_one() -> None:
    small = ParseBudget(seconds=20, memory_mb=1024)
    failed = FailedFile("/p.pdf", "p.pdf", "/", "abc", "took longer than 20 s to parse",
                        "2026-01-01T00:00:00+00:00", small)  # fmt: skip
    assert failed.still_fails("abc", small)
    assert failed.still_fails("abc", ParseBudget(seconds=10, memory_mb=512))
    assert not failed.still_fails("abc", ParseBudget(seconds=60, memory_mb=1024))
    assert not failed.still_fails("abc", ParseBudget(seconds=20, memory_mb=2048))
    assert not failed.still_fails("abc", None)  # no limits at all
    assert not failed.still_fails("def", small)  # changed content
    corrupt = FailedFile("/p.pdf", "p.pdf", "/", "abc", "corrupt PDF", "t")
    assert corrupt.still_fails("abc", ParseBudget(seconds=600, memory_mb=8192))
