"""An index built from files with the default settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indexes import Embedder, IndexReader
    from ingest import IngestReport


def build_index(
    embedder: Embedder, paths: list[Path], index: Path
) -> tuple[IndexReader, IngestReport]:
    """Ingest ``paths`` into a new index with the default settings."""
    from service.settings import Settings

    settings = Settings()
    report = settings.pipeline(embedder).run(paths, index)
    return settings.reader(index, embedder), report
