"""Power lost right after ``ingest`` returns: what reached the disk is served.

The collection lives on ext4 in a loop-mounted image file. Right after the second
ingestion publishes, the image is copied while the filesystem is still mounted and
nothing has been synced: the copy holds what was written to the device and nothing of
the page cache, as a disk holds after a power cut. The copy, mounted after its journal
is replayed, must serve version 2 whole, since every file and folder of a version is
fsynced before ``CURRENT`` names it. (With ``os.fsync`` made a no-op, the same cut lost
version 2: ``CURRENT`` still named 1; the issue's probe of the code before the fsyncs
found ``CURRENT`` naming a version whose ``vectors.faiss`` and ``bm25/`` files were
empty: issue 16, item 1.)
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from indexes import ChunkerParams, IndexReader
from indexes.manifest import read_manifest
from indexes.versions import VersionedDir
from ingest import Pipeline
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.integration

NOTES = {
    "adam.md": "# Adam\n\nAdam keeps moving averages of the gradient and its square.\n",
    "lstm.md": "# LSTM\n\nThe forget gate decides how much of the cell state to keep.\n",
}


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


@contextmanager
def _mounted(image: Path, at: Path) -> Iterator[Path]:
    at.mkdir(exist_ok=True)
    _run("mount", "-o", "loop", str(image), str(at))
    try:
        yield at
    finally:
        _run("umount", str(at))


def _ingest(notes: Path, collection: Path, texts: dict[str, str]) -> None:
    for name, text in texts.items():
        (notes / name).write_text(text, encoding="utf-8")
    params = ChunkerParams(chunk_tokens=200, overlap_tokens=32)
    Pipeline(FakeEmbedder(), params).run([notes], collection)


def test_a_power_cut_after_ingest_leaves_the_published_version_whole(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "this test mounts a loop device: run it as root (CI does)"
    image, cut = tmp_path / "disk.img", tmp_path / "after-the-cut.img"
    with image.open("wb") as disk:
        disk.truncate(64 * 1024 * 1024)
    _run("mkfs.ext4", "-q", "-F", str(image))
    with _mounted(image, tmp_path / "disk") as disk:
        notes, collection = disk / "notes", disk / "collections" / "default"
        notes.mkdir()
        _ingest(notes, collection, NOTES)
        _run("sync")  # version 1 is old news, on disk for good
        _ingest(notes, collection, {"rope.md": "# RoPE\n\nRoPE rotates queries and keys.\n"})
        shutil.copyfile(image, cut)  # the power cut: the page cache is lost
    _run("e2fsck", "-p", str(cut))  # the journal replayed, as the next boot does
    with _mounted(cut, tmp_path / "rebooted") as rebooted:
        versions = VersionedDir(rebooted / "collections" / "default")
        current = versions.current_dir()
        assert current.name == "2"
        manifest = read_manifest(current)
        assert manifest.counts.documents == 3
        for path in current.rglob("*"):
            assert path.is_dir() or path.stat().st_size > 0, path.relative_to(current)
        reader = IndexReader(versions.root, FakeEmbedder())
        hits = reader.search("how does rope rotate queries", k=3)
        assert hits and hits[0].chunk.source.endswith("rope.md")
        del reader, hits
        gc.collect()  # its memory-mapped files closed before the unmount
