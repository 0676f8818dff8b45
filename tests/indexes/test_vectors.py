from __future__ import annotations

from pathlib import Path

import numpy as np

from indexes import vectors


def _unit(n: int) -> np.ndarray:
    rows = np.random.default_rng(0).standard_normal((n, 16)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_exact_below_the_threshold_and_hnsw_from_it(tmp_path: Path) -> None:
    rows = _unit(200)
    assert vectors.kind_of(vectors.build_index(rows, 16, hnsw_threshold=201)) == "flat"
    hnsw = vectors.build_index(rows, 16, hnsw_threshold=200)
    assert vectors.kind_of(hnsw) == "hnsw"
    assert hnsw.hnsw.efConstruction == vectors.HNSW_EF_CONSTRUCTION
    vectors.write_index(hnsw, tmp_path)
    loaded = vectors.read_index(tmp_path)
    assert loaded.hnsw.efSearch == vectors.HNSW_EF_SEARCH
    _, found = vectors.search(loaded, rows[:5], 1)
    assert found[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_larger_graphs_search_with_a_wider_beam() -> None:
    assert vectors.ef_search_for(vectors.HNSW_LARGE - 1) == vectors.HNSW_EF_SEARCH
    assert vectors.ef_search_for(1_000_000) == vectors.HNSW_EF_SEARCH_LARGE
    assert vectors.HNSW_EF_SEARCH_LARGE > vectors.HNSW_EF_SEARCH
