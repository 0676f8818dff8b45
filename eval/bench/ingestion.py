"""Ingestion and search figures for BENCHMARKS.md.

Run: ``python -m eval.bench.ingestion [--out FILE.json]``.  Ingests the demo
``corpus/`` and ``../shared/corpus`` (read in place) into fresh indexes with
the real embedder, then measures re-ingestion with nothing changed, the
index size on disk, and warm ``search`` latency (query embedding included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from service.paths import PROJECT_ROOT
from service.settings import Settings

QUERIES = [
    "why divide by the square root of d_k",
    "what does the forget gate do",
    "how much memory does the KV cache need",
    "LoRA rank and alpha",
    "Adam bias correction",
    "reciprocal rank fusion",
    "label smoothing value",
    "HNSW efSearch",
    "what is perplexity",
    "nucleus sampling",
]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_corpus(name: str, corpus: Path, workdir: Path, rounds: int) -> dict[str, Any]:
    settings = Settings()
    embedder = settings.embedder()
    embedder.load()
    pipeline = settings.pipeline(embedder)
    index = workdir / name
    first = pipeline.run([corpus], index)
    again = pipeline.run([corpus], index)
    reader = settings.reader(index, embedder)
    latencies = []
    for _ in range(rounds):
        for query in QUERIES:
            started = time.perf_counter()
            reader.search(query, k=5)
            latencies.append((time.perf_counter() - started) * 1000)
    chunks = reader.manifest.counts.chunks
    return {
        "corpus": name,
        "documents": reader.manifest.counts.documents,
        "chunks": chunks,
        "input_mb": round(first.bytes_read / 1e6, 2),
        "ingest_s": round(first.seconds, 2),
        "chunks_per_s": round(chunks / first.seconds, 1),
        "mb_per_s": round(first.bytes_read / 1e6 / first.seconds, 3),
        "reingest_unchanged_s": round(again.seconds, 3),
        "index_mb": round(_size(index / "versions") / 1e6, 2),
        "search_p50_ms": round(statistics.median(latencies), 2),
        "search_p99_ms": round(_percentile(latencies, 0.99), 2),
        "search_queries": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    shared = PROJECT_ROOT.parent / "shared" / "corpus"
    if not shared.is_dir():
        raise SystemExit(f"../shared/corpus is absent (looked at {shared}); it is read in place")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            bench_corpus("corpus/", PROJECT_ROOT / "corpus", Path(tmp), args.rounds),
            bench_corpus("../shared/corpus/", shared, Path(tmp), args.rounds),
        ]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
