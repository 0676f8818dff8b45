"""Retrieval benchmark on the SQuAD 2.0 splits, through the service's own search path.

For each chunk size it ingests the split's articles with the normal
:class:`ingest.Pipeline` and the real embedder, embeds every question in one
batch, and ranks passages with :meth:`indexes.IndexReader.search` under each
fusion setting: dense only, BM25 only, and weighted RRF over a small grid.
The best setting (hit@5, then hit@1, then MRR@10) is timed per query with
its embedding included.  Indexes are cached under ``var/bench/`` by split,
chunker parameters and a hash of the code that builds them (``--no-cache``
builds them in a temporary folder instead).

Tune on dev, then report the one chosen setting on test::

    python -m eval.bench.retrieval --split dev --out var/bench/dev.json
    python -m eval.bench.retrieval --split test --chunk-tokens 200 --fusion 1:1.5:10

``--backend onnx-int8`` embeds passages and questions with the int8 model;
``--query-backend`` embeds the questions with another backend than the index's.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eval import squad
from eval.bench.retrieval_report import Report, Result, markdown
from eval.metrics import MRR_K, Gold, first_relevant_rank, summary
from eval.squad import IndexRun, build_index
from indexes import (
    ChunkerParams,
    Embedder,
    FusionWeights,
    IndexError_,
    IndexReader,
    SentenceTransformerEmbedder,
)
from indexes.embedder import BACKENDS
from service.paths import MODELS_DIR

log = logging.getLogger(__name__)

DEFAULT_CACHE = squad.PROJECT_ROOT / "var" / "bench"
CHUNK_SIZES = (128, 200, 254)
OVERLAP_TOKENS = 32
LEXICAL_RATIOS = (0.5, 0.75, 1.0, 1.5, 2.0)
RRF_KS = (10, 60)


def fusion_grid() -> list[FusionWeights]:
    """Dense only, BM25 only, then RRF with the lexical weight relative to dense = 1."""
    grid = [FusionWeights(dense=1.0, lexical=0.0), FusionWeights(dense=0.0, lexical=1.0)]
    grid += [FusionWeights(dense=1.0, lexical=r, rrf_k=k) for k in RRF_KS for r in LEXICAL_RATIOS]
    return grid


def parse_fusion(text: str) -> FusionWeights:
    """``DENSE:LEXICAL:RRF_K``, e.g. ``1:1.5:60``."""
    try:
        dense, lexical, rrf_k = text.split(":")
        return FusionWeights(dense=float(dense), lexical=float(lexical), rrf_k=int(rrf_k))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected DENSE:LEXICAL:RRF_K, got {text!r}") from None


def sample(questions: list[squad.Question], limit: int | None) -> list[squad.Question]:
    """All questions, or a fixed pseudo-random ``limit`` of them in file order."""
    if limit is None or limit >= len(questions):
        return questions
    chosen = set(random.Random(0).sample(range(len(questions)), limit))
    return [q for i, q in enumerate(questions) if i in chosen]


@dataclass(frozen=True, slots=True)
class Workload:
    """A split's articles and answerable questions, the questions embedded once."""

    articles: list[squad.Article]
    questions: list[squad.Question]
    vectors: npt.NDArray[np.float32]
    embed_seconds: float


def load_workload(data: Path, name: squad.Split, limit: int | None, embedder: Embedder) -> Workload:
    articles = squad.split(squad.load_squad(data), name)
    questions = sample(squad.answerable(articles), limit)
    started = time.perf_counter()
    vectors = embedder.embed([q.question for q in questions])
    seconds = time.perf_counter() - started
    log.info("embedded %d questions in %.1fs", len(questions), seconds)
    return Workload(articles, questions, vectors, seconds)


def evaluate(
    reader: IndexReader,
    questions: Sequence[squad.Question],
    vectors: npt.NDArray[np.float32],
    golds: Sequence[Gold],
) -> list[int | None]:
    """Rank of the first relevant passage of each question under ``reader.weights``."""
    ranks = []
    for question, vector, gold in zip(questions, vectors, golds, strict=True):
        hits = reader.search(question.question, MRR_K, query_vector=vector)
        ranks.append(first_relevant_rank([h.chunk for h in hits], gold))
    return ranks


def run_fusions(run: IndexRun, fusions: Sequence[FusionWeights], work: Workload) -> list[Result]:
    """Evaluate each fusion on one index, with the questions embedded beforehand."""
    golds = [Gold.of(q.answers, squad.document_name(q.article)) for q in work.questions]
    results = []
    for fusion in fusions:
        run.reader.weights = fusion
        started = time.perf_counter()
        ranks = evaluate(run.reader, work.questions, work.vectors, golds)
        seconds = time.perf_counter() - started
        result = Result(run.chunk_tokens, fusion, summary(ranks), len(ranks), seconds)
        log.info("c=%d %s: %s (%.1fs)", run.chunk_tokens, result.label, result.metrics, seconds)
        results.append(result)
    return results


def percentiles(timings_ms: Sequence[float]) -> dict[str, float]:
    cuts = statistics.quantiles(timings_ms, n=100, method="inclusive")
    return {"p50_ms": cuts[49], "p99_ms": cuts[98]}


def latency(
    reader: IndexReader,
    embedder: Embedder,
    questions: Sequence[squad.Question],
    n: int,
    warmup: int = 10,
) -> dict[str, Any]:
    """Warm per-query time in ms: embedding the query, searching, and both together.

    Same steps as ``reader.search(query)``, timed in two parts to tell the
    model's share from the index's.
    """
    texts = [q.question for q in sample(list(questions), n + warmup)]
    for text in texts[:warmup]:
        reader.search(text, MRR_K)
    embed, search = [], []
    for text in texts[warmup:]:
        started = time.perf_counter()
        vector = embedder.embed([text])[0]
        embedded = time.perf_counter()
        reader.search(text, MRR_K, query_vector=vector)
        embed.append((embedded - started) * 1000)
        search.append((time.perf_counter() - embedded) * 1000)
    total = [e + s for e, s in zip(embed, search, strict=True)]
    parts = {"embed": percentiles(embed), "search": percentiles(search)}
    return {"queries": len(total), **percentiles(total), **parts}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench.retrieval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--data", type=Path, help="SQuAD v2 JSON (default: ../shared/...)")
    parser.add_argument("--chunk-tokens", type=int, nargs="+", default=list(CHUNK_SIZES))
    parser.add_argument("--overlap-tokens", type=int, default=OVERLAP_TOKENS)
    parser.add_argument(
        "--fusion",
        type=parse_fusion,
        action="append",
        help="DENSE:LEXICAL:RRF_K to evaluate (repeatable; default: the grid)",
    )
    parser.add_argument(
        "--max-questions",
        type=int,
        help="a fixed sample of this many answerable questions (default: all)",
    )
    parser.add_argument("--latency-queries", type=int, default=200)
    parser.add_argument(
        "--backend", choices=BACKENDS, default="torch", help="embedding backend of the index"
    )
    parser.add_argument(
        "--query-backend", choices=BACKENDS, help="embedding backend of the questions"
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--no-cache", action="store_true", help="build indexes in a temp dir")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    one_config = args.fusion is not None and len(args.fusion) == 1 and len(args.chunk_tokens) == 1
    if args.split == "test" and not one_config:
        parser.error(
            "the test split is for reporting only: pass the one --fusion and "
            "--chunk-tokens chosen on dev"
        )
    return args


def run(args: argparse.Namespace) -> Report:
    """Every (chunk size, fusion) pair evaluated, then the chosen one's warm latency."""
    started = time.perf_counter()
    data = args.data or squad.default_path()
    embedder = SentenceTransformerEmbedder(backend=args.backend, cache_dir=MODELS_DIR)
    queries = embedder
    if args.query_backend not in (None, args.backend):
        queries = SentenceTransformerEmbedder(backend=args.query_backend, cache_dir=MODELS_DIR)
    work = load_workload(data, args.split, args.max_questions, queries)
    sampled = len(work.questions) < len(squad.answerable(work.articles))
    report = Report(args.split, data, len(work.questions), sampled, work.embed_seconds)
    runs = {}
    for chunk_tokens in args.chunk_tokens:
        params = ChunkerParams(chunk_tokens=chunk_tokens, overlap_tokens=args.overlap_tokens)
        folder = args.workdir / f"squad-{args.split}"
        index = build_index(work.articles, folder, params, embedder, queries)
        runs[chunk_tokens] = index
        report.indexes[str(chunk_tokens)] = {**index.summary(), "query_backend": queries.backend}
        report.results += run_fusions(index, args.fusion or fusion_grid(), work)
    reader = runs[report.chosen.chunk_tokens].reader
    reader.weights = report.chosen.fusion
    report.latency = latency(reader, queries, work.questions, args.latency_queries)
    report.wall_seconds = time.perf_counter() - started
    return report


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry: markdown to stdout, progress to stderr, the JSON report to ``--out``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    with tempfile.TemporaryDirectory() as scratch:
        args.workdir = Path(scratch) if args.no_cache else args.cache_dir
        try:
            report = run(args)
        except (squad.DatasetMissing, IndexError_) as exc:
            sys.exit(f"error: {exc}")
    chosen, lat = report.chosen, report.latency
    sampled = " (a fixed sample)" if report.sampled else ""
    print(f"## SQuAD 2.0 {args.split}: {report.questions} answerable questions{sampled}\n")
    print(markdown(report.results, chosen))
    print(
        f"\nchosen: chunk {chosen.chunk_tokens}, {chosen.label}\n"
        f"latency per query, warm: p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms "
        f"(embedding p50 {lat['embed']['p50_ms']:.1f} ms + search p50 "
        f"{lat['search']['p50_ms']:.1f} ms)\nwall time {report.wall_seconds:.0f}s"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report.as_json(), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
