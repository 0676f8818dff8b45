"""Watching folders: re-sync an index whenever files under them change.

Changes are collected for ``debounce_ms`` (saving a file often touches it
several times) and then one incremental run of the pipeline brings the
index in line: changed files re-ingested, new ones added, deleted ones
removed.  Only supported, non-hidden files count, so editors' swap files and
the index's own files never trigger a run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from indexes import IndexError_
from ingest import loaders
from ingest.pipeline import IngestReport, Pipeline

log = logging.getLogger(__name__)


def relevant(path: str) -> bool:
    """Whether a change to ``path`` can change the index."""
    name = Path(path)
    return loaders.supported(name) and not name.name.startswith(".")


def watch(
    pipeline: Pipeline,
    paths: Sequence[Path],
    index_root: Path,
    *,
    on_report: Callable[[IngestReport], None],
    on_error: Callable[[IndexError_], None],
    stop: threading.Event | None = None,
    debounce_ms: int = 1000,
    wait_seconds: float = 0.0,
) -> None:
    """Re-run the pipeline on every batch of changes until ``stop`` is set (or Ctrl-C).

    A run that cannot take the index (another ingestion holds it) is reported to
    ``on_error`` and the watching goes on; the next change retries.
    """
    from watchfiles import watch as changes

    batches = changes(
        *paths,
        watch_filter=lambda _, path: relevant(path),
        debounce=debounce_ms,
        stop_event=stop,
        raise_interrupt=False,
    )
    for batch in batches:
        log.info("%d change(s) under %s", len(batch), ", ".join(map(str, paths)))
        while True:  # again while files changed during the run: those events may be gone
            before = snapshot(paths)
            try:
                report = pipeline.run(paths, index_root, wait_seconds=wait_seconds)
            except IndexError_ as exc:
                on_error(exc)
                break
            on_report(report)
            if snapshot(paths) == before:
                break


def snapshot(paths: Sequence[Path]) -> dict[str, tuple[int, int]]:
    """Modification time and size of every relevant file under ``paths``."""
    found = {}
    for root in paths:
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if not relevant(str(path)):
                continue
            try:
                stat = path.stat()
            except OSError:  # removed meanwhile: the next snapshot differs anyway
                continue
            if path.is_file():
                found[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return found
