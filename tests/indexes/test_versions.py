from __future__ import annotations

from pathlib import Path

import pytest

from indexes import ChunkerParams, EmbedderMismatch, IndexLocked, IndexNotFound, IndexReader
from indexes.versions import VersionedDir
from ingest import Pipeline
from tests.fakes import FakeEmbedder


def _ingest(folder: Path, index: Path, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "note.md").write_text(f"# Note\n\n{text}\n", encoding="utf-8")
    Pipeline(FakeEmbedder(), ChunkerParams(chunk_tokens=100, overlap_tokens=0)).run([folder], index)


def test_reader_refuses_an_index_built_with_another_embedder(tmp_path: Path) -> None:
    _ingest(tmp_path / "n", tmp_path / "index", "Gradient descent.")

    class Other(FakeEmbedder):
        name = "all-MiniLM-L6-v2"

    with pytest.raises(EmbedderMismatch, match=r"fake-hashing-embedder.*all-MiniLM-L6-v2"):
        IndexReader(tmp_path / "index", Other())


def test_reader_of_an_empty_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="no index has been published"):
        IndexReader(tmp_path / "nothing", FakeEmbedder())


def test_staging_leftovers_are_never_read_and_are_cleaned(tmp_path: Path) -> None:
    index = tmp_path / "index"
    _ingest(tmp_path / "n", index, "Version one text.")
    versions = VersionedDir(index)
    number, staging = versions.new_staging()  # as a killed writer would leave it
    (staging / "vectors.faiss").write_bytes(b"half written")
    reader = IndexReader(index, FakeEmbedder())
    assert reader.version == 1
    _ingest(tmp_path / "n", index, "Version two text.")
    assert versions.current() == number  # the leftover was removed, its number free again
    assert not staging.exists()


def test_old_versions_are_pruned_keeping_the_previous_one(tmp_path: Path) -> None:
    index = tmp_path / "index"
    for n in range(4):
        _ingest(tmp_path / "n", index, f"Text number {n}.")
    kept = sorted(p.name for p in (index / "versions").iterdir())
    assert kept == ["3", "4"]


def test_reader_switches_to_a_new_version_on_refresh(tmp_path: Path) -> None:
    index = tmp_path / "index"
    _ingest(tmp_path / "n", index, "Momentum accumulates velocity.")
    reader = IndexReader(index, FakeEmbedder())
    assert not reader.refresh()
    _ingest(tmp_path / "n", index, "Nesterov looks ahead before stepping.")
    assert reader.refresh() and reader.version == 2
    assert "Nesterov" in reader.search("Nesterov looks ahead", k=1)[0].chunk.text


def test_a_second_writer_stops_with_a_clear_message(tmp_path: Path) -> None:
    versions = VersionedDir(tmp_path / "index")
    with (
        versions.lock(),
        pytest.raises(IndexLocked, match=r"another ingestion .* is running"),
        VersionedDir(tmp_path / "index").lock(wait_seconds=0.2),
    ):
        pass


def test_the_lock_is_free_again_after_the_writer_ends(tmp_path: Path) -> None:
    versions = VersionedDir(tmp_path / "index")
    with versions.lock():
        pass
    with versions.lock():
        pass
