from __future__ import annotations

from pathlib import Path

import numpy as np

from indexes import ChunkerParams, IndexReader
from ingest import Pipeline
from ingest.pipeline import embed_once
from tests.fakes import FakeEmbedder

PARAMS = ChunkerParams(chunk_tokens=120, overlap_tokens=16)


def test_each_distinct_text_is_embedded_once_and_rows_keep_their_order() -> None:
    embedder = FakeEmbedder()
    texts = ["adam moments", "lora rank", "adam moments", "kv cache", "lora rank"]
    vectors = embed_once(embedder, texts)
    assert embedder.embedded == 3 and embedder.batches == 1
    np.testing.assert_array_equal(vectors, FakeEmbedder().embed(texts))


def test_texts_without_repeats_go_to_the_embedder_as_they_are() -> None:
    embedder = FakeEmbedder()
    assert embed_once(embedder, ["one", "two"]).shape == (2, embedder.dimension)
    assert embedder.embedded == 2


def test_identical_chunks_of_two_files_are_embedded_once(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    text = "# Adam\n\nAdam keeps running averages of gradients and of their squares.\n"
    for name in ("adam.md", "adam-copy.md"):
        (notes / name).write_text(text, encoding="utf-8")
    (notes / "lora.md").write_text("# LoRA\n\nLoRA trains low-rank adapters.\n", encoding="utf-8")
    embedder = FakeEmbedder()
    report = Pipeline(embedder, PARAMS).run([notes], tmp_path / "index")
    assert report.chunks_embedded == 3  # every chunk got a vector...
    assert embedder.embedded == 2  # ...from two distinct texts
    hits = IndexReader(tmp_path / "index", embedder).search("adam running averages", k=3)
    assert {h.chunk.source for h in hits[:2]} == {"notes/adam.md", "notes/adam-copy.md"}
    assert hits[0].dense_score == hits[1].dense_score
