"""Watching a folder: additions, changes and removals re-sync the index; other files do not."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from indexes import ChunkerParams, IndexError_
from indexes.versions import VersionedDir
from ingest import IngestReport, Pipeline
from ingest.watch import relevant, watch
from tests.fakes import FakeEmbedder


def _eventually(condition: Callable[[], bool], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the watcher did not re-sync in time"
        time.sleep(0.05)


def test_only_supported_visible_files_count() -> None:
    assert relevant("/c/notes/adam.md") and relevant("/c/paper.PDF")
    assert not relevant("/c/notes/.adam.md.swp") and not relevant("/c/notes/adam.md~")
    assert not relevant("/c/index/CURRENT") and not relevant("/c/.hidden.md")


def test_changes_under_a_watched_folder_are_ingested(tmp_path: Path) -> None:
    notes, index = tmp_path / "notes", tmp_path / "index"
    notes.mkdir()
    (notes / "adam.md").write_text("# Adam\n\nAdam adapts step sizes.\n")
    pipeline = Pipeline(FakeEmbedder(), ChunkerParams(chunk_tokens=200, overlap_tokens=32))
    pipeline.run([notes], index)
    reports: list[IngestReport] = []
    errors: list[IndexError_] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch,
        args=(pipeline, [notes], index),
        kwargs={"on_report": reports.append, "on_error": errors.append, "stop": stop,
                "debounce_ms": 200},
    )  # fmt: skip
    watcher.start()
    try:
        time.sleep(0.5)  # let the watcher start
        (notes / "lora.md").write_text("# LoRA\n\nLoRA trains low-rank matrices.\n")
        _eventually(lambda: any(r.added == ["notes/lora.md"] for r in reports))
        (notes / ".scratch.md.swp").write_text("ignored")
        (notes / "adam.md").unlink()
        _eventually(lambda: any(r.removed == ["notes/adam.md"] for r in reports))
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert not watcher.is_alive() and errors == []
    assert VersionedDir(index).current() == 3
