from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexes import ChunkerParams, IndexReader
from indexes.manifest import CHUNKING_RULES, read_manifest
from indexes.versions import VersionedDir
from ingest import Pipeline
from tests.fakes import FakeEmbedder

PARAMS = ChunkerParams(chunk_tokens=120, overlap_tokens=16)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    _write(folder, "adam.md", "# Adam\n\nAdam keeps running averages of gradients.\n")
    _write(folder, "lora.md", "# LoRA\n\nLoRA trains low-rank adapter matrices.\n")
    _write(folder, "sub/rnn.txt", "Recurrent networks carry a hidden state.\n")
    _write(folder, ".hidden/secret.md", "# Secret\n\nNot to be ingested.\n")
    _write(folder, "image.png", "not a supported type, skipped in folders")
    return folder


def _run(embedder: FakeEmbedder, paths: list[Path], index: Path):  # type: ignore[no-untyped-def]
    return Pipeline(embedder, PARAMS).run(paths, index)


def test_first_run_adds_every_supported_file(notes: Path, tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    report = _run(embedder, [notes], tmp_path / "index")
    assert sorted(report.added) == ["notes/adam.md", "notes/lora.md", "notes/sub/rnn.txt"]
    assert report.failed == [] and report.version == 1
    manifest = read_manifest(VersionedDir(tmp_path / "index").current_dir())
    assert manifest.counts.documents == 3
    assert manifest.embedder.model == "fake-hashing-embedder"
    assert set(manifest.documents) == set(report.added)


def test_rerun_without_changes_embeds_nothing_and_publishes_nothing(
    notes: Path, tmp_path: Path
) -> None:
    _run(FakeEmbedder(), [notes], tmp_path / "index")
    embedder = FakeEmbedder()
    report = _run(embedder, [notes], tmp_path / "index")
    assert embedder.batches == 0
    assert len(report.unchanged) == 3 and not report.changed
    assert report.version is None and VersionedDir(tmp_path / "index").current() == 1


def test_changed_and_removed_documents(notes: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    _run(FakeEmbedder(), [notes], index)
    _write(notes, "adam.md", "# Adam\n\nAdam divides by the root of the second moment.\n")
    (notes / "lora.md").unlink()
    embedder = FakeEmbedder()
    report = _run(embedder, [notes], index)
    assert report.updated == ["notes/adam.md"]
    assert report.removed == ["notes/lora.md"]
    assert report.unchanged == ["notes/sub/rnn.txt"]
    assert embedder.embedded == 1  # only the changed document's one chunk
    reader = IndexReader(index, embedder)
    texts = [h.chunk.text for h in reader.search("adam second moment root", k=10)]
    assert "Adam divides by the root of the second moment." in texts
    assert not any("running averages" in t or "low-rank" in t for t in texts)
    assert {d.source for d in reader.documents()} == {"notes/adam.md", "notes/sub/rnn.txt"}


def test_another_roots_documents_are_kept(notes: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    other = _write(tmp_path / "other", "bert.md", "# BERT\n\nBERT masks 15% of tokens.\n")
    _run(FakeEmbedder(), [notes], index)
    report = _run(FakeEmbedder(), [other], index)
    assert report.added == ["bert.md"] and report.removed == []
    assert read_manifest(VersionedDir(index).current_dir()).counts.documents == 4


def test_corrupt_files_are_reported_and_the_rest_ingested(notes: Path, tmp_path: Path) -> None:
    (notes / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (notes / "empty.txt").write_bytes(b"")
    report = _run(FakeEmbedder(), [notes, tmp_path / "missing.md"], tmp_path / "index")
    reasons = {f.source: f.reason for f in report.failed}
    assert reasons["notes/broken.pdf"].startswith("corrupt PDF")
    assert reasons["notes/empty.txt"] == "empty file"
    assert reasons[str(tmp_path / "missing.md")] == "no such file or directory"
    assert len(report.added) == 3 and report.version == 1


def test_a_document_that_turns_corrupt_keeps_its_previous_version(
    notes: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    _run(FakeEmbedder(), [notes], index)
    (notes / "adam.md").write_bytes(b"\x00\x00binary now")
    report = _run(FakeEmbedder(), [notes], index)
    assert [f.source for f in report.failed] == ["notes/adam.md"]
    reader = IndexReader(index, FakeEmbedder())
    assert "notes/adam.md" in {d.source for d in reader.documents()}


def test_a_changed_chunker_rebuilds_everything(notes: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    _run(FakeEmbedder(), [notes], index)
    embedder = FakeEmbedder()
    report = Pipeline(embedder, ChunkerParams(chunk_tokens=64, overlap_tokens=0)).run(
        [notes], index
    )
    assert len(report.added) == 3 and embedder.embedded == 3
    assert read_manifest(VersionedDir(index).current_dir()).chunker.chunk_tokens == 64


def test_an_index_chunked_under_older_rules_is_rebuilt(notes: Path, tmp_path: Path) -> None:
    """A manifest written before the chunking rules had a version reads as rules 1, so an
    unchanged document is chunked again under today's rules, not kept as it was cut."""
    index = tmp_path / "index"
    _run(FakeEmbedder(), [notes], index)
    path = VersionedDir(index).current_dir() / "manifest.json"
    written = json.loads(path.read_text(encoding="utf-8"))
    del written["chunker"]["rules"]
    path.write_text(json.dumps(written), encoding="utf-8")
    assert read_manifest(path.parent).chunker.rules == 1

    embedder = FakeEmbedder()
    report = _run(embedder, [notes], index)
    assert len(report.added) == 3 and embedder.embedded == 3
    assert read_manifest(VersionedDir(index).current_dir()).chunker.rules == CHUNKING_RULES


def test_a_hit_says_whether_it_opens_its_section(tmp_path: Path) -> None:
    """The first chunk of a section is where the notes introduce what its heading names;
    a later chunk of the same section, even after an incremental ingestion, is not."""
    sentences = " ".join(
        f"Sentence {n} says how merged adapters serve without extra latency." for n in range(40)
    )
    folder = tmp_path / "notes"
    note = f"# LoRA\n\n## Merging\n\n{sentences}\n\n## Ranks\n\nRanks are small.\n"
    _write(folder, "lora.md", note)
    _run(FakeEmbedder(), [folder], tmp_path / "index")
    _write(folder, "adam.md", "# Adam\n\nAdam keeps running averages of gradients.\n")
    _run(FakeEmbedder(), [folder], tmp_path / "index")
    reader = IndexReader(tmp_path / "index", FakeEmbedder())
    hits = reader.search("merged adapters latency ranks gradients", k=20)
    merging = [h for h in hits if h.chunk.heading_path[-1:] == ("Merging",)]
    assert len(merging) > 1
    opening = [h for h in merging if h.opens_section]
    assert len(opening) == 1 and opening[0].chunk.text.startswith("Sentence 0 says")
    others = [h for h in hits if h.chunk.heading_path[-1:] != ("Merging",)]
    assert others and all(h.opens_section for h in others)  # one chunk each: it opens
