"""Choosing the embedding backend, recording it in the manifest, and checking it on load."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from indexes import ChunkerParams, EmbedderMismatch, IndexReader
from indexes.embedder import SentenceTransformerEmbedder
from indexes.manifest import read_manifest
from indexes.versions import VersionedDir
from ingest import Pipeline
from service.settings import Settings
from tests.fakes import FakeEmbedder

PARAMS = ChunkerParams(chunk_tokens=100, overlap_tokens=0)


class FloatFake(FakeEmbedder):
    """Stands in for one model's two interchangeable backends."""

    name = "all-MiniLM-L6-v2"
    backend = "torch"


class Int8Fake(FloatFake):
    backend = "onnx-int8"


def _ingest(embedder: FakeEmbedder, folder: Path, index: Path) -> None:
    folder.mkdir(exist_ok=True)
    Pipeline(embedder, PARAMS).run([folder], index)


def _note(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"# {name}\n\n{text}\n", encoding="utf-8")


def test_settings_build_the_configured_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    default = Settings().embedder()
    assert default.backend == "onnx-int8" and default.name == "all-MiniLM-L6-v2"
    monkeypatch.setenv("SYLLABUS_EMBEDDING_BACKEND", "torch")
    assert Settings().embedder().backend == "torch"
    monkeypatch.setenv("SYLLABUS_EMBEDDING_BACKEND", "onnx-fp4")
    with pytest.raises(ValueError, match="embedding_backend"):
        Settings()


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown embedding backend 'tensorrt'"):
        SentenceTransformerEmbedder(backend="tensorrt")  # type: ignore[arg-type]


def test_the_manifest_records_the_backend(tmp_path: Path) -> None:
    _note(tmp_path / "n", "adam.md", "Adam keeps running averages.")
    _ingest(Int8Fake(), tmp_path / "n", tmp_path / "index")
    manifest = read_manifest(VersionedDir(tmp_path / "index").current_dir())
    assert manifest.embedder.backend == "onnx-int8"


def test_manifests_from_before_backends_read_as_torch(tmp_path: Path) -> None:
    _note(tmp_path / "n", "adam.md", "Adam keeps running averages.")
    _ingest(FloatFake(), tmp_path / "n", tmp_path / "index")
    path = VersionedDir(tmp_path / "index").current_dir() / "manifest.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    del raw["embedder"]["backend"]
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert read_manifest(path.parent).embedder.backend == "torch"
    IndexReader(tmp_path / "index", FloatFake())  # no warning, no error


def test_float_and_int8_vectors_are_searched_together_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _note(tmp_path / "n", "adam.md", "Adam keeps running averages.")
    _ingest(FloatFake(), tmp_path / "n", tmp_path / "index")
    with caplog.at_level(logging.WARNING, logger="indexes.manifest"):
        reader = IndexReader(tmp_path / "index", Int8Fake())
    assert "holds torch vectors and is searched with onnx-int8" in caplog.text
    assert reader.search("adam averages", k=1)[0].chunk.source == "n/adam.md"


def test_another_backend_of_unknown_compatibility_is_refused(tmp_path: Path) -> None:
    _note(tmp_path / "n", "adam.md", "Adam keeps running averages.")
    _ingest(FloatFake(), tmp_path / "n", tmp_path / "index")

    class Quantised(FloatFake):
        backend = "onnx-int4"

    with pytest.raises(EmbedderMismatch, match=r"'torch' backend.*'onnx-int4'.*BACKEND"):
        IndexReader(tmp_path / "index", Quantised())


def test_switching_backend_re_embeds_every_document_from_its_stored_text(tmp_path: Path) -> None:
    index = tmp_path / "index"
    _note(tmp_path / "a", "adam.md", "Adam keeps running averages.")
    _note(tmp_path / "a", "lora.md", "LoRA trains low-rank adapters.")
    _note(tmp_path / "b", "bert.md", "BERT masks tokens.")
    _ingest(FloatFake(), tmp_path / "a", index)
    _ingest(FloatFake(), tmp_path / "b", index)
    int8 = Int8Fake()
    report = Pipeline(int8, PARAMS).run([tmp_path / "a"], index)  # nothing changed on disk
    assert report.unchanged == ["a/adam.md", "a/lora.md"] and not report.changed
    assert report.version == 3  # republished all the same, with int8 vectors
    assert int8.embedded == 3  # every chunk, from both roots, from the chunk store
    manifest = read_manifest(VersionedDir(index).current_dir())
    assert manifest.embedder.backend == "onnx-int8" and manifest.counts.documents == 3
    again = Int8Fake()
    assert Pipeline(again, PARAMS).run([tmp_path / "a"], index).version is None
    assert again.embedded == 0
