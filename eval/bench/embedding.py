"""The embedder's backends compared on the same texts: speed, agreement, length sorting.

Run: ``python -m eval.bench.embedding [--out FILE.json]``.  The texts are the
SQuAD 2.0 dev split's chunks (chunked exactly as ingestion chunks them) and
its questions.  Each round embeds the chunks once per backend, alternating
backends, so that a busy machine slows both alike; the fastest round (the
least disturbed) and the median are reported, with the process's CPU time.
Query latency is one question per call, as the service embeds them, one
backend after the other.
Retrieval quality per backend is measured by ``eval.bench.retrieval --backend``.

It also times building the int8 model from the packaged weights (into a
temporary cache), and shows what sorting by length is worth: chunks and
questions shuffled together, embedded in one call per 256 texts (sorted by
length inside each call) against one call per 64 texts in arrival order.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eval import squad
from eval.provenance import git_commit
from indexes import ChunkerParams
from indexes.embedder import BACKENDS, SentenceTransformerEmbedder
from ingest import loaders
from ingest.chunking import chunk_document
from ingest.pipeline import EMBED_BATCH_CHUNKS
from service.paths import MODELS_DIR


def chunk_texts(articles: list[squad.Article], embedder: SentenceTransformerEmbedder) -> list[str]:
    """What ingestion embeds for these articles, with the default chunker."""
    params = ChunkerParams(chunk_tokens=200, overlap_tokens=32)
    texts = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        squad.write_documents(articles, folder)
        for path in sorted(folder.iterdir()):
            document = loaders.load(path, path.read_bytes())
            pieces = chunk_document(document, params, embedder.count_tokens)
            texts += [p.embed_text for p in pieces]
    return texts


def timed(embed: Callable[[Sequence[str]], Any], texts: Sequence[str], call: int) -> float:
    """Seconds to embed ``texts`` in calls of ``call`` texts, in the given order."""
    return timed_both(embed, texts, call)[0]


def timed_both(
    embed: Callable[[Sequence[str]], Any], texts: Sequence[str], call: int
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to embed ``texts``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), call):
        embed(texts[start : start + call])
    return time.perf_counter() - wall, time.process_time() - cpu


def build_seconds() -> float:
    """A fresh int8 build from the packaged weights, into a temporary cache."""
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        SentenceTransformerEmbedder(backend="onnx-int8", cache_dir=Path(cache)).load()
        return time.perf_counter() - started


def agreement(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> dict[str, float]:
    cos = np.sum(a * b, axis=1)
    return {
        "mean": float(cos.mean()),
        "p1": float(np.percentile(cos, 1)),
        "min": float(cos.min()),
    }


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def run(rounds: int, queries: int) -> dict[str, Any]:
    articles = squad.split(squad.load_squad(squad.default_path()), "dev")
    questions = [q.question for q in squad.answerable(articles)]
    embedders = {b: SentenceTransformerEmbedder(backend=b, cache_dir=MODELS_DIR) for b in BACKENDS}
    for embedder in embedders.values():
        embedder.load()
    chunks = chunk_texts(articles, embedders["torch"])
    result: dict[str, Any] = {"chunks": len(chunks), "questions": len(questions), "backends": {}}
    vectors = {b: e.embed(chunks) for b, e in embedders.items()}  # also warms both up
    qvectors = {b: e.embed(questions) for b, e in embedders.items()}
    seconds: dict[str, list[float]] = {b: [] for b in BACKENDS}
    cpu: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for _ in range(rounds):
        for backend, embedder in embedders.items():
            wall, used = timed_both(embedder.embed, chunks, EMBED_BATCH_CHUNKS)
            seconds[backend].append(wall)
            cpu[backend].append(used)
    sample = random.Random(0).sample(questions, queries)
    latency: dict[str, list[float]] = {b: [] for b in BACKENDS}
    # One backend at a time: right after a run, ONNX Runtime's threads spin for
    # work, and a PyTorch call then would compete with them for the cores.
    for backend, embedder in embedders.items():
        for question in sample:
            started = time.perf_counter()
            embedder.embed([question])
            latency[backend].append((time.perf_counter() - started) * 1000)
    mixed = chunks + questions
    random.Random(1).shuffle(mixed)
    for backend, embedder in embedders.items():
        # The fastest round is the one least disturbed by other work on the machine.
        result["backends"][backend] = {
            "chunk_seconds": seconds[backend],
            "chunk_cpu_seconds": cpu[backend],
            "chunks_per_second": len(chunks) / min(seconds[backend]),
            "chunks_per_second_median": len(chunks) / statistics.median(seconds[backend]),
            "chunks_per_cpu_second": len(chunks) / min(cpu[backend]),
            "query_p50_ms": percentile(latency[backend], 50),
            "query_p99_ms": percentile(latency[backend], 99),
            "mixed_sorted_per_second": len(mixed) / timed(embedder.embed, mixed, 256),
            "mixed_unsorted_per_second": len(mixed) / timed(embedder.embed, mixed, 64),
        }
    result["speedup"] = (
        result["backends"]["onnx-int8"]["chunks_per_second"]
        / result["backends"]["torch"]["chunks_per_second"]
    )
    result["cosine"] = {
        "chunks": agreement(vectors["torch"], vectors["onnx-int8"]),
        "questions": agreement(qvectors["torch"], qvectors["onnx-int8"]),
    }
    result["int8_build_seconds"] = build_seconds()
    return result


def versions() -> dict[str, str]:
    return {n: metadata.version(n) for n in ("torch", "onnxruntime", "sentence-transformers")}


def markdown(result: dict[str, Any]) -> str:
    rows = [
        "| backend | chunks/s (best, median) | chunks per CPU-s | query p50 | query p99 "
        "| mixed, sorted | mixed, unsorted |",
        "|---|---|---|---|---|---|---|",
    ]
    for backend, r in result["backends"].items():
        rows.append(
            f"| {backend} | {r['chunks_per_second']:.1f}, {r['chunks_per_second_median']:.1f} | "
            f"{r['chunks_per_cpu_second']:.1f} | {r['query_p50_ms']:.1f} ms | "
            f"{r['query_p99_ms']:.1f} ms | {r['mixed_sorted_per_second']:.1f}/s | "
            f"{r['mixed_unsorted_per_second']:.1f}/s |"
        )
    cos = result["cosine"]
    rows += [
        "",
        f"{result['chunks']} chunks, {result['questions']} questions; int8 is "
        f"{result['speedup']:.2f}x torch on chunks",
        f"cosine int8 vs torch: chunks mean {cos['chunks']['mean']:.4f} "
        f"(p1 {cos['chunks']['p1']:.4f}, min {cos['chunks']['min']:.4f}); questions mean "
        f"{cos['questions']['mean']:.4f} (p1 {cos['questions']['p1']:.4f}, "
        f"min {cos['questions']['min']:.4f})",
        f"int8 model built from the packaged weights in {result['int8_build_seconds']:.1f} s",
    ]
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.embedding", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    try:
        result = run(args.rounds, args.queries)
    except squad.DatasetMissing as exc:
        sys.exit(f"error: {exc}")
    result |= {"git_commit": git_commit(), "libraries": versions(), "rounds": args.rounds}
    print(markdown(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
