"""`syllabus ingest PATH --watch`: re-syncs on changes until Ctrl-C, then exits cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from indexes.versions import VersionedDir

pytestmark = pytest.mark.integration


def _eventually(condition: Callable[[], bool], within: float = 120) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_watch_follows_the_folder_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    notes, index = tmp_path / "notes", tmp_path / "index"
    notes.mkdir()
    (notes / "adam.md").write_text("# Adam\n\nAdam adapts the step size of each weight.\n")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "ingest", str(notes), "--index", str(index),
         "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        _eventually(lambda: VersionedDir(index).current() == 1)
        time.sleep(2)  # the watcher starts right after the first version
        (notes / "lora.md").write_text("# LoRA\n\nLoRA trains two low-rank matrices.\n")
        _eventually(lambda: VersionedDir(index).current() == 2)
        (notes / "adam.md").unlink()
        _eventually(lambda: VersionedDir(index).current() == 3)
    finally:
        watcher.send_signal(signal.SIGINT)
        output, _ = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, output
    assert "watching" in output and "removed  notes/adam.md" in output
