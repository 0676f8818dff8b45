"""A damaged version on disk: the newest readable one serves, loudly; a loaded version
keeps serving; ingestion rebuilds instead of crashing; publishing syncs every file."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from indexes import ChunkerParams, IndexCorrupt, IndexReader
from indexes.versions import VersionedDir
from ingest import Pipeline
from tests.fakes import FakeEmbedder
from tests.paths import PROJECT

# Every file of a version whose damage was seen to stop the service (issue 16).
FILES = [
    "vectors.faiss",
    "chunks.sqlite",
    "manifest.json",
    "bm25/size",
    "bm25/vocab.index.json",
    "bm25/data.csc.index.npy",
    "bm25/indices.csc.index.npy",
    "bm25/indptr.csc.index.npy",
    "bm25/params.index.json",
]


def _ingest(folder: Path, index: Path, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "note.md").write_text(f"# Note\n\n{text}\n", encoding="utf-8")
    Pipeline(FakeEmbedder(), ChunkerParams(chunk_tokens=100, overlap_tokens=0)).run([folder], index)


def _two_versions(tmp_path: Path) -> Path:
    index = tmp_path / "index"
    _ingest(tmp_path / "n", index, "Momentum accumulates velocity.")
    _ingest(tmp_path / "n", index, "Nesterov looks ahead before stepping.")
    return index


def _damage(path: Path, how: str) -> None:
    if how == "deleted":
        path.unlink()
    else:
        path.write_bytes(b"")  # what a power cut left of an unsynced file


@pytest.mark.parametrize("how", ["truncated", "deleted"])
@pytest.mark.parametrize("name", FILES)
def test_a_damaged_current_version_falls_back_to_the_previous_one(
    tmp_path: Path, name: str, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    index = _two_versions(tmp_path)
    _damage(index / "versions" / "2" / name, how)
    with caplog.at_level(logging.ERROR):
        reader = IndexReader(index, FakeEmbedder())
    assert reader.version == 1
    assert "Momentum" in reader.search("momentum velocity", k=1)[0].chunk.text
    assert "version 2" in caplog.text and "serving version 1" in caplog.text
    assert str(tmp_path) not in caplog.text  # the message names the collection, not paths


@pytest.mark.parametrize("pointer", ["", "abc", "99", "\x00\x00"])
def test_a_damaged_pointer_serves_the_newest_readable_version(tmp_path: Path, pointer: str) -> None:
    index = _two_versions(tmp_path)
    loaded = IndexReader(index, FakeEmbedder())
    (index / "CURRENT").write_text(pointer)
    assert not loaded.refresh() and loaded.version == 2  # the loaded version serves on
    assert loaded.search("Nesterov", k=1)
    assert IndexReader(index, FakeEmbedder()).version == 2  # a fresh start finds it too


def test_a_newer_version_that_cannot_be_read_leaves_the_loaded_one_serving(
    tmp_path: Path,
) -> None:
    index = tmp_path / "index"
    _ingest(tmp_path / "n", index, "Momentum accumulates velocity.")
    reader = IndexReader(index, FakeEmbedder())
    _ingest(tmp_path / "n", index, "Nesterov looks ahead before stepping.")
    (index / "versions" / "2" / "vectors.faiss").write_bytes(b"")
    assert not reader.refresh() and not reader.refresh()  # tried once, not on every request
    assert reader.version == 1 and reader.search("momentum", k=1)


def test_no_readable_version_is_a_clear_error(tmp_path: Path) -> None:
    index = tmp_path / "index"
    _ingest(tmp_path / "n", index, "Momentum accumulates velocity.")
    (index / "versions" / "1" / "chunks.sqlite").write_bytes(b"")
    with pytest.raises(IndexCorrupt, match="no version of index can be read"):
        IndexReader(index, FakeEmbedder())


@pytest.mark.parametrize("name", ["vectors.faiss", "chunks.sqlite", "bm25/size", "manifest.json"])
def test_ingestion_over_a_damaged_version_rebuilds(tmp_path: Path, name: str) -> None:
    index = tmp_path / "index"
    _ingest(tmp_path / "n", index, "Momentum accumulates velocity.")
    (index / "versions" / "1" / name).write_bytes(b"")
    _ingest(tmp_path / "n", index, "Nesterov looks ahead before stepping.")
    reader = IndexReader(index, FakeEmbedder())
    assert reader.version == 2 and "Nesterov" in reader.search("Nesterov", k=1)[0].chunk.text
    (index / "CURRENT").write_text("abc")
    _ingest(tmp_path / "n", index, "Adam keeps two moving averages.")  # a bad pointer too
    assert IndexReader(index, FakeEmbedder()).version == 3


def test_every_file_and_folder_of_a_version_is_synced_before_it_is_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(source: str | Path, target: str | Path) -> None:
        if Path(target).name == "CURRENT":
            synced.append("CURRENT replaced")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    index = tmp_path / "index"
    _ingest(tmp_path / "n", index, "Momentum accumulates velocity.")
    published = synced.index("CURRENT replaced")
    version = VersionedDir(index).version_dir(1)
    every = [version, *version.rglob("*")]
    staged = {str(p).replace("/versions/1", "/versions/.staging-1") for p in every}
    before = set(synced[:published])
    assert staged <= before | {str(version)}, sorted(staged - before)
    assert str(version.parent) in before  # the rename itself is durable


def test_a_full_disk_leaves_no_staging_and_the_previous_version_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from indexes import DiskFull, vectors

    index = tmp_path / "index"
    _ingest(tmp_path / "n", index, "Momentum accumulates velocity.")

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vectors, "write_index", full)
    for _ in range(3):  # every retry fails the same way, and leaves nothing behind
        with pytest.raises(DiskFull, match=r"no space left.*previous version still serves"):
            _ingest(tmp_path / "n", index, "Nesterov looks ahead before stepping.")
    assert sorted(p.name for p in (index / "versions").iterdir()) == ["1"]
    assert IndexReader(index, FakeEmbedder()).version == 1


_TRUNCATE_WHILE_SERVING = """
import sys
from pathlib import Path
from indexes import IndexReader
from tests.fakes import FakeEmbedder
index = Path(sys.argv[1])
reader = IndexReader(index, FakeEmbedder())
version = reader.root / "versions" / "2"
for name in ("vectors.faiss", "bm25/data.csc.index.npy", "bm25/indices.csc.index.npy"):
    with (version / name).open("r+b") as f:
        f.truncate(0)  # damaged on disk while the loaded version serves
for _ in range(3):
    assert reader.search("nesterov looks ahead", k=2)
print("served")
"""


def test_files_truncated_under_a_serving_reader_do_not_crash_it(tmp_path: Path) -> None:
    # Memory-mapped, a truncated file kills the process with SIGBUS at its next read; a
    # course's files are small enough to be read whole (indexes.files.MAP_ABOVE_BYTES).
    index = _two_versions(tmp_path)
    root = PROJECT
    done = subprocess.run(
        [sys.executable, "-c", _TRUNCATE_WHILE_SERVING, str(index)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "served" in done.stdout, (done.returncode, done.stderr[-500:])
