from __future__ import annotations

from pathlib import Path

from eval.bench.passages import DEPTHS, covered
from eval.datasets import Item
from indexes import IndexReader
from tests.fakes import FakeEmbedder
from tests.service.fakes import ingest_notes

QUESTION = "which low-rank matrices does lora train"


def test_a_key_point_counts_from_the_first_depth_whose_passages_hold_it(tmp_path: Path) -> None:
    ingest_notes(tmp_path / "data")
    reader = IndexReader(tmp_path / "data" / "default", FakeEmbedder())
    sources = [Path(h.chunk.source).name for h in reader.search(QUESTION, max(DEPTHS))]
    assert sources == ["lora.md", "adam.md"]

    assert covered(reader, Item("q", QUESTION, key_points=("low-rank matrices",))) == [
        True,
        True,
        True,
        True,
    ]
    both = Item("q", QUESTION, key_points=("low-rank matrices", "moving average"))
    assert covered(reader, both) == [False, True, True, True]
    assert covered(reader, Item("q", QUESTION, key_points=("nesterov",))) == [False] * len(DEPTHS)
