"""The index at 100k and 1M chunks: build time, peak memory, size on disk, latency, recall.

Run: ``python -m eval.bench.scale [--sizes 100000 1000000] [--out FILE.json]``.

For each vector kind (see :mod:`eval.bench.synthetic`) and size, the vectors
are indexed exactly (``IndexFlatIP``) and with HNSW, both through
:mod:`indexes.vectors` with the project's parameters.  HNSW's recall@10 is
measured against exact search for several efSearch values; latencies are one
query per call, as the service searches.  BM25 (:mod:`indexes.lexical`) is
built over synthetic chunks made of real sentences.  Each measurement runs in
a process of its own, so its peak resident memory (``ru_maxrss``) is its own;
``base_rss_mb`` is the resident memory before the index is built (the input
vectors or texts included), ``rss_mb`` after the index was written, freed and
read back as the service reads it.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from eval import squad
from eval.bench import synthetic
from eval.provenance import git_commit
from indexes import vectors
from indexes.lexical import LexicalIndex
from indexes.search import top_rows

log = logging.getLogger(__name__)

CACHE = squad.PROJECT_ROOT / "var" / "bench" / "scale"
K = 10
EF_SEARCH = (64, 128, 256, 512, 1024, 2048, 4096)
RECALL_QUERIES = 500
TIMED_QUERIES = 200


def rss_mb() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mb() -> float:
    """Resident memory now (Linux; 0 elsewhere)."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return 0.0
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def timings_ms(search: Callable[[int], object], n: int) -> dict[str, float]:
    """p50 and p99 of ``search(i)`` for i in 0..n-1, after a few warm-up calls."""
    for i in range(min(10, n)):
        search(i)
    spent = []
    for i in range(n):
        started = time.perf_counter()
        search(i)
        spent.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": float(np.percentile(spent, 50)), "p99_ms": float(np.percentile(spent, 99))}


def one_thread(measure: Callable[[], dict[str, float]]) -> dict[str, float]:
    """``measure()`` with FAISS on one OpenMP thread: on a busy machine two threads
    that spin waiting for each other made exact search several times slower."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return measure()
    finally:
        faiss.omp_set_num_threads(threads)


def exact_top(
    base: npt.NDArray[np.float32], queries: npt.NDArray[np.float32], k: int
) -> npt.NDArray[np.int64]:
    """Exact top-k rows by inner product, in blocks (no second copy of ``base``)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(base), 100_000):
        scores = queries @ base[start : start + 100_000].T
        rows = np.arange(start, start + scores.shape[1])[None, :].repeat(len(queries), axis=0)
        best_scores = np.concatenate([best_scores, scores], axis=1)
        best_rows = np.concatenate([best_rows, rows], axis=1)
        keep = np.argsort(-best_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(best_scores, keep, axis=1)
        best_rows = np.take_along_axis(best_rows, keep, axis=1)
    return best_rows


def recall(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    shared = [len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(shared))


def vector_job(kind: str, n: int, index_kind: str) -> dict[str, Any]:
    """Build one vector index, write it, read it back as the service does, and time it."""
    queries_n = max(RECALL_QUERIES, TIMED_QUERIES)
    base, queries = synthetic.vectors_and_queries(kind, n, queries_n, CACHE)
    n = len(base)
    before = current_rss_mb()
    started = time.perf_counter()
    threshold = 0 if index_kind == "hnsw" else n + 1
    built = vectors.build_index(base, synthetic.DIMENSION, threshold)
    result: dict[str, Any] = {"build_s": time.perf_counter() - started, "n": n}
    with tempfile.TemporaryDirectory() as scratch:
        vectors.write_index(built, Path(scratch))
        result["size_mb"] = size_mb(Path(scratch))
        del built
        index = vectors.read_index(Path(scratch))
        result |= {"base_rss_mb": before, "peak_rss_mb": rss_mb(), "rss_mb": current_rss_mb()}
        result["search"] = timings_ms(lambda i: vectors.search(index, queries[i : i + 1], K), 200)
        result["search_1_thread"] = one_thread(
            lambda: timings_ms(lambda i: vectors.search(index, queries[i : i + 1], K), 200)
        )
        if index_kind == "hnsw":
            truth = exact_top(base, queries, K)  # after the peak is read: its blocks are large
            result["ef_search"] = index.hnsw.efSearch
            result["recall@10"] = recall(vectors.search(index, queries, K)[1], truth)
            result["sweep"] = {str(ef): sweep(index, ef, queries, truth) for ef in EF_SEARCH}
    return result


def sweep(
    index: Any, ef: int, queries: npt.NDArray[np.float32], truth: npt.NDArray[np.int64]
) -> dict[str, float]:
    """Recall@10 and single-query latency of HNSW at one efSearch."""
    saved, index.hnsw.efSearch = index.hnsw.efSearch, ef
    try:
        found = vectors.search(index, queries, K)[1]
        times = timings_ms(lambda i: vectors.search(index, queries[i : i + 1], K), 100)
        return {"recall@10": recall(found, truth), **times}
    finally:
        index.hnsw.efSearch = saved


def bm25_job(n: int) -> dict[str, Any]:
    """BM25 over ``n`` synthetic chunks: build, save, load (memory-mapped), score + top rows."""
    sentences, questions = synthetic.real_texts()
    texts = synthetic.synthetic_chunks(n, 3, sentences)
    before = current_rss_mb()
    started = time.perf_counter()
    built = LexicalIndex.build(texts)
    result: dict[str, Any] = {"build_s": time.perf_counter() - started, "n": n}
    del texts
    with tempfile.TemporaryDirectory() as scratch:
        built.save(Path(scratch))
        result["size_mb"] = size_mb(Path(scratch))
        del built
        index = LexicalIndex.load(Path(scratch))
        result |= {"base_rss_mb": before, "peak_rss_mb": rss_mb(), "rss_mb": current_rss_mb()}
        result["search"] = timings_ms(
            lambda i: top_rows(index.scores(questions[i]), 50), TIMED_QUERIES
        )
    return result


def run_job(spec: str) -> dict[str, Any]:
    """``vectors:KIND:N:flat|hnsw`` or ``bm25:N``."""
    parts = spec.split(":")
    if parts[0] == "bm25":
        return bm25_job(int(parts[1]))
    return vector_job(parts[1], int(parts[2]), parts[3])


def in_subprocess(spec: str, timeout_s: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "eval.bench.scale", "--job", spec]
    log.info("running %s", spec)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout_s:.0f} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    log.info("%s: %s", spec, result)
    return result


def specs(sizes: Sequence[int], kinds: Sequence[str], bm25: Sequence[int]) -> list[str]:
    jobs = []
    for kind in kinds:
        # Real vectors: as many as there are, whatever the sizes.
        for n in [10**9] if kind.startswith("real") else sizes:
            jobs.append(f"vectors:{kind}:{n}:flat")
            # Random vectors' HNSW is shown at 100k: at 1M its build alone took over
            # half an hour, for a recall far below the other kinds'.
            if kind != "random" or n <= 100_000:
                jobs.append(f"vectors:{kind}:{n}:hnsw")
    return jobs + [f"bm25:{n}" for n in bm25]


def markdown(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        "| job | n | build | RSS before → after, peak | on disk | p50 | p99 | p50, p99 on 1 thread "
        "| recall@10 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for spec, r in results.items():
        if "error" in r:
            rows.append(f"| {spec} | | {r['error']} | | | | | | |")
            continue
        rec = f"{r['recall@10']:.3f} (ef {r['ef_search']})" if "recall@10" in r else ""
        single = r.get("search_1_thread")
        one = f"{single['p50_ms']:.2f}, {single['p99_ms']:.2f} ms" if single else ""
        rows.append(
            f"| {spec} | {r['n']:,} | {r['build_s']:.1f} s | {r['base_rss_mb']:,.0f} → "
            f"{r.get('rss_mb', 0):,.0f}, {r['peak_rss_mb']:,.0f} MB | {r['size_mb']:,.0f} MB "
            f"| {r['search']['p50_ms']:.2f} ms "
            f"| {r['search']['p99_ms']:.2f} ms | {one} | {rec} |"
        )
    for spec, r in results.items():
        for ef, s in r.get("sweep", {}).items():
            rows.append(
                f"\n{spec} efSearch {ef}: recall@10 {s['recall@10']:.3f}, "
                f"p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms"
            )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.scale", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--kinds", nargs="+", choices=synthetic.KINDS, default=synthetic.KINDS)
    parser.add_argument("--bm25", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per measurement")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="SPEC",
        help="these measurements only, e.g. bm25:100000 "
        "or vectors:embedding-like:1000000:hnsw (KIND:N:flat|hnsw)",
    )
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.job:
        print(json.dumps(run_job(args.job)))
        return
    results = {}
    for spec in args.only or specs(args.sizes, args.kinds, args.bm25):
        results[spec] = in_subprocess(spec, args.timeout)
        if args.out:  # after each, so a long run can be read as it goes
            report = {"git_commit": git_commit(), "hnsw": hnsw_parameters(), "results": results}
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))


def hnsw_parameters() -> dict[str, int]:
    return {
        "M": vectors.HNSW_NEIGHBOURS,
        "efConstruction": vectors.HNSW_EF_CONSTRUCTION,
        "efSearch": vectors.HNSW_EF_SEARCH,
        "efSearch_from": vectors.HNSW_LARGE,
        "efSearch_large": vectors.HNSW_EF_SEARCH_LARGE,
    }


if __name__ == "__main__":
    main()
