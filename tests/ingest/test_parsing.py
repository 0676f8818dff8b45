"""Parsing in a worker process under a time and memory budget (issue 16: poison documents).

The poison PDF takes pypdf 16-24 s a page for 20 pages; every budget here is far
below that, so no test waits on the poison longer than its budget.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from indexes import ChunkerParams, IndexReader
from ingest import Pipeline
from ingest.documents import Block, Document, LoadError
from ingest.parse_worker import decode_answer, encode_document, encode_error
from ingest.parsing import BudgetExceeded, ParseBudget, ParseInterrupted, ParseWorker
from tests.fakes import FakeEmbedder
from tests.pdfs import poison_pdf

PARAMS = ChunkerParams(chunk_tokens=120, overlap_tokens=16)
NOTE = b"# Softmax\n\nSoftmax turns raw scores into probabilities that sum to one.\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text()


def test_a_poison_pdf_fails_by_its_time_budget_while_the_rest_is_ingested(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "poison.pdf").write_bytes(poison_pdf())
    (folder / "softmax.md").write_bytes(NOTE)
    pipeline = Pipeline(FakeEmbedder(), PARAMS, budget=ParseBudget(seconds=2))
    report = pipeline.run([folder], tmp_path / "index")
    assert report.added == ["notes/softmax.md"]
    assert [(f.source, f.reason) for f in report.failed] == [
        ("notes/poison.pdf", "took longer than 2 s to parse")
    ]
    reader = IndexReader(tmp_path / "index", FakeEmbedder())
    assert [d.source for d in reader.documents()] == ["notes/softmax.md"]


def test_a_file_that_needs_more_memory_than_its_budget_fails_by_name() -> None:
    worker = ParseWorker(ParseBudget(seconds=300, memory_mb=256))
    with pytest.raises(BudgetExceeded, match="needed more than 256 MB of memory to parse"):
        worker.load(Path("poison.pdf"), poison_pdf(pages=1))
    # The next file gets a fresh worker.
    assert worker.load(Path("softmax.md"), NOTE).title == "Softmax"
    worker.stop()


def test_a_page_of_many_paragraphs_parses_in_bounded_memory() -> None:
    """300,000 <p> in 3 MB, inside a page-wide wrapper: the tree BeautifulSoup built needed
    about 0.7 GB for them; the streaming reader about 125 MB, so 256 MB is ample."""
    paragraphs = b"".join(b"<p>w%d</p>" % (i % 10) for i in range(300_000))
    page = b"<html><body><div class=page><main>%s</main></div></body></html>" % paragraphs
    worker = ParseWorker(ParseBudget(seconds=300, memory_mb=256))
    document = worker.load(Path("paragraphs.html"), page)
    worker.stop()
    assert len(document.blocks) == 300_000 and document.blocks[-1].text == "w9"


def test_closing_kills_a_parse_in_progress_at_once(tmp_path: Path) -> None:
    worker = ParseWorker(ParseBudget(seconds=600))
    pipeline = Pipeline(FakeEmbedder(), PARAMS, parser=worker)
    (tmp_path / "poison.pdf").write_bytes(poison_pdf())
    raised: list[BaseException] = []

    def run() -> None:
        try:
            pipeline.run([tmp_path / "poison.pdf"], tmp_path / "index")
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while worker.pid is None:  # the worker has started and been sent the file
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    pid = worker.pid
    time.sleep(0.5)  # well inside the poison's first page
    pipeline.close()
    thread.join(30)  # the poison alone would take minutes
    assert not thread.is_alive()
    assert len(raised) == 1 and isinstance(raised[0], ParseInterrupted)
    assert not _alive(pid)
    assert not (tmp_path / "index" / "CURRENT").exists()
    assert not (tmp_path / "index" / "failures.json").exists()  # not the file's fault
    with pytest.raises(ParseInterrupted):
        worker.load(Path("softmax.md"), NOTE)


def test_no_worker_outlives_its_run(tmp_path: Path) -> None:
    worker = ParseWorker()
    (tmp_path / "softmax.md").write_bytes(NOTE)
    loads: list[int | None] = []
    original = worker.load

    def noting(path: Path, data: bytes) -> Document:
        document = original(path, data)
        loads.append(worker.pid)
        return document

    worker.load = noting  # type: ignore[method-assign]
    Pipeline(FakeEmbedder(), PARAMS, parser=worker).run([tmp_path], tmp_path / "index")
    assert len(loads) == 1 and loads[0] is not None
    assert worker.pid is None and not _alive(loads[0])


def test_answers_cross_the_process_boundary_intact() -> None:
    blocks = [
        Block(f"text {i} é \ud800", i * 10, i * 10 + 8, ("A", f"B{i % 3}"), i % 2 or None)
        for i in range(10_000)
    ]
    document = Document("Title ✓", blocks)
    assert decode_answer(encode_document(document)) == document
    with pytest.raises(LoadError, match=r"^corrupt PDF: bad xref$"):
        decode_answer(encode_error("corrupt PDF: bad xref"))
    with pytest.raises(LoadError, match="unreadable"):
        decode_answer(b'{"title": "x"}\n[["text", 0]]')
