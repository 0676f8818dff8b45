"""FAISS vectors: exact inner product for small corpora, HNSW above a threshold.

Vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from indexes.files import mapped

log = logging.getLogger(__name__)

VECTORS_NAME = "vectors.faiss"
# Tuned with eval/bench/scale.py (BENCHMARKS.md) on synthetic vectors with the
# covariance of real all-MiniLM-L6-v2 embeddings: far harder for HNSW than the real
# ones (recall@10 0.99 at efSearch 64 on 64k real passages), so a safe bound.
# There efSearch 512 gave recall@10 0.986 at 100k vectors but 0.845 at 1M, and 2048
# gave 0.970 at 1M. efConstruction 100 built faster than 200 (35 s against 141 s at
# 100k, under load), for a recall that the beam makes up.
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 512
# From here on the wider beam (recall at 512 falls below 0.95 near 180k, log-interpolated).
HNSW_LARGE = 150_000
HNSW_EF_SEARCH_LARGE = 2048


def build_index(vectors: npt.NDArray[np.float32], dimension: int, hnsw_threshold: int) -> Any:
    """An index over ``vectors``: exact below ``hnsw_threshold`` rows, HNSW at or above."""
    index: Any
    if len(vectors) >= hnsw_threshold:
        index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def kind_of(index: Any) -> str:
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"


def write_index(index: Any, directory: Path) -> None:
    faiss.write_index(index, str(directory / VECTORS_NAME))


def read_index(directory: Path) -> Any:
    """The vectors, read whole when small (:func:`indexes.files.mapped`: a file damaged on
    disk cannot crash the process), else memory-mapped where FAISS supports it, so
    replicas share pages."""
    path = directory / VECTORS_NAME
    index = None
    if mapped(path):
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:
            log.debug("memory-mapping %s is not supported; reading it whole", path)
    if index is None:
        index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = ef_search_for(index.ntotal)
    return index


def ef_search_for(count: int) -> int:
    """HNSW's search beam for an index of ``count`` vectors: wider for larger graphs."""
    return HNSW_EF_SEARCH_LARGE if count >= HNSW_LARGE else HNSW_EF_SEARCH


def all_vectors(index: Any) -> npt.NDArray[np.float32]:
    """Every stored vector, in row order (both index kinds keep them uncompressed)."""
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


def search(
    index: Any, query: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Top ``k`` (scores, rows) for each query row; rows are -1 where fewer exist."""
    k = max(1, min(k, int(index.ntotal)))
    if index.ntotal == 0:
        n = len(query)
        return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
    scores, rows = index.search(np.ascontiguousarray(query, dtype=np.float32), k)
    return scores, rows
