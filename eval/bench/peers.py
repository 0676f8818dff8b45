"""Syllabus against a LangChain and a LlamaIndex pipeline doing the same work, in one run.

Each system ingests the same folder (``../shared/corpus`` or the SQuAD 2.0 dev
articles as text files) with the same all-MiniLM-L6-v2 weights and chunks of
200 word pieces of that model's tokenizer with 32 of overlap, then answers the
same queries with its top 5 passages:

* **Syllabus**: its own pipeline (loaders, chunker, batched embedding, FAISS +
  BM25, versioned index on disk) and hybrid search.
* **LangChain**: pypdf pages / file text as ``Document``s,
  ``RecursiveCharacterTextSplitter.from_huggingface_tokenizer``,
  ``HuggingFaceEmbeddings`` (normalised), ``FAISS.from_documents``,
  ``similarity_search``.
* **LlamaIndex**: the same documents, ``SentenceSplitter`` with the model's
  tokenizer, ``HuggingFaceEmbedding`` (normalised), ``VectorStoreIndex`` over a
  ``FaissVectorStore`` (inner product), ``as_retriever(similarity_top_k=5)``.

The peers' loaders are plain pypdf and file reads (what their PDF and text
loaders do), so loading costs the same.  Each system runs in its own process,
so peak memory (``ru_maxrss``) is its own; the order rotates between runs.
Measured: ingestion seconds (model loading reported apart) and chunks/s, peak
memory, warm top-5 latency p50/p99 over 200 queries, and, on SQuAD, hit@5 over a
fixed sample of answerable dev questions.  The peers are the ``bench`` extra::

    pip install -e '.[bench]'
    python -m eval.bench.peers --runs 3 --out var/bench/peers.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval import squad
from eval.bench.retrieval import sample
from eval.metrics import Gold, first_relevant_rank, hit_at
from eval.provenance import git_commit, write_report

SYSTEMS = ("syllabus", "langchain", "llamaindex")
WORKLOADS = ("corpus", "squad")
CHUNK_TOKENS, OVERLAP_TOKENS, TOP_K = 200, 32, 5
LATENCY_QUERIES, WARMUP, QUALITY_QUESTIONS = 200, 10, 1000


@dataclass(frozen=True, slots=True)
class Found:
    source: str
    text: str


Search = Callable[[str], list[Found]]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_documents(folder: Path) -> list[tuple[str, str, int | None]]:
    """(source, text, page) for every .md/.txt file and every PDF page under ``folder``."""
    from pypdf import PdfReader

    found: list[tuple[str, str, int | None]] = []
    for path in sorted(folder.rglob("*")):
        source = str(path.relative_to(folder.parent))
        if path.suffix in (".md", ".txt"):
            found.append((source, path.read_text(encoding="utf-8", errors="replace"), None))
        elif path.suffix == ".pdf":
            for page, content in enumerate(PdfReader(path).pages, start=1):
                found.append((source, content.extract_text() or "", page))
    return found


def _model_path() -> Path:
    from indexes.embedder import DEFAULT_MODEL, resolve_model_path

    return resolve_model_path(DEFAULT_MODEL)


def _syllabus(folder: Path, scratch: Path) -> tuple[int, Search, float]:
    from indexes.manifest import ChunkerParams
    from service.settings import Settings

    started = time.perf_counter()
    settings = Settings()
    embedder = settings.embedder()  # the configured backend
    embedder.load()
    loaded = time.perf_counter() - started
    params = ChunkerParams(chunk_tokens=CHUNK_TOKENS, overlap_tokens=OVERLAP_TOKENS)
    report = settings.pipeline(embedder, params).run([folder], scratch / "index")
    reader = settings.reader(scratch / "index", embedder)

    def search(query: str) -> list[Found]:
        return [Found(h.chunk.source, h.chunk.text) for h in reader.search(query, TOP_K)]

    return report.chunks_embedded, search, loaded


def _tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(_model_path()))


def langchain_models() -> tuple[Any, Any]:
    """LangChain's embedder of the same weights, normalised, and the model's tokenizer."""
    from langchain_huggingface import HuggingFaceEmbeddings

    embeddings = HuggingFaceEmbeddings(
        model_name=str(_model_path()), encode_kwargs={"normalize_embeddings": True}
    )
    return embeddings, _tokenizer()


def langchain_store(
    folder: Path, models: tuple[Any, Any], chunk_tokens: int, overlap_tokens: int
) -> tuple[Any, int]:
    """LangChain's FAISS store over ``folder``, split in word pieces of the embedder."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings, tokenizer = models
    splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        tokenizer, chunk_size=chunk_tokens, chunk_overlap=overlap_tokens
    )
    documents = [
        Document(page_content=text, metadata={"source": source, "page": page})
        for source, text, page in raw_documents(folder)
    ]
    chunks = splitter.split_documents(documents)
    return FAISS.from_documents(chunks, embeddings), len(chunks)


def _langchain(folder: Path, _: Path) -> tuple[int, Search, float]:
    started = time.perf_counter()
    models = langchain_models()
    loaded = time.perf_counter() - started
    store, chunks = langchain_store(folder, models, CHUNK_TOKENS, OVERLAP_TOKENS)

    def search(query: str) -> list[Found]:
        hits = store.similarity_search(query, k=TOP_K)
        return [Found(d.metadata["source"], d.page_content) for d in hits]

    return chunks, search, loaded


def llamaindex_models() -> tuple[Any, Any]:
    """LlamaIndex's embedder of the same weights, normalised, and the model's tokenizer."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=str(_model_path()), normalize=True), _tokenizer()


def llamaindex_index(
    folder: Path, models: tuple[Any, Any], chunk_tokens: int, overlap_tokens: int
) -> tuple[Any, int]:
    """LlamaIndex's vector index over ``folder`` in a FAISS inner-product store."""
    import faiss
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.faiss import FaissVectorStore

    embed_model, tokenizer = models
    splitter = SentenceSplitter(
        chunk_size=chunk_tokens, chunk_overlap=overlap_tokens, tokenizer=tokenizer.tokenize
    )
    documents = [
        Document(text=text, metadata={"source": source, "page": page})
        for source, text, page in raw_documents(folder)
    ]
    nodes = splitter.get_nodes_from_documents(documents)
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(384))
    context = StorageContext.from_defaults(vector_store=store)
    index = VectorStoreIndex(nodes, storage_context=context, embed_model=embed_model)
    return index, len(nodes)


def _llamaindex(folder: Path, _: Path) -> tuple[int, Search, float]:
    started = time.perf_counter()
    models = llamaindex_models()
    loaded = time.perf_counter() - started
    index, nodes = llamaindex_index(folder, models, CHUNK_TOKENS, OVERLAP_TOKENS)
    retriever = index.as_retriever(similarity_top_k=TOP_K)

    def search(query: str) -> list[Found]:
        return [
            Found(n.node.metadata["source"], n.node.get_content())
            for n in retriever.retrieve(query)
        ]

    return nodes, search, loaded


_BUILDERS = {"syllabus": _syllabus, "langchain": _langchain, "llamaindex": _llamaindex}


def _squad_questions() -> list[squad.Question]:
    articles = squad.split(squad.load_squad(squad.default_path()), "dev")
    return sample(squad.answerable(articles), QUALITY_QUESTIONS)


def _folder(workload: str, scratch: Path) -> Path:
    if workload == "corpus":
        folder = squad.PROJECT_ROOT.parent / "shared" / "corpus"
        if not folder.is_dir():
            raise squad.DatasetMissing(f"the shared corpus is absent: expected {folder}")
        return folder
    folder = scratch / "squad-dev"
    squad.write_documents(squad.split(squad.load_squad(squad.default_path()), "dev"), folder)
    return folder


def _latency(search: Search, queries: Sequence[str]) -> dict[str, float]:
    for query in queries[:WARMUP]:
        search(query)
    timings = []
    for query in queries[WARMUP:]:
        started = time.perf_counter()
        search(query)
        timings.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {"p50_ms": cuts[49], "p99_ms": cuts[98]}


def work(system: str, workload: str) -> dict[str, Any]:
    """One system on one workload, in this process."""
    questions = _squad_questions()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        folder = _folder(workload, scratch)
        started = time.perf_counter()
        chunks, search, load_seconds = _BUILDERS[system](folder, scratch)
        ingest_seconds = time.perf_counter() - started - load_seconds
        result: dict[str, Any] = {
            "system": system,
            "workload": workload,
            "chunks": chunks,
            "model_load_s": load_seconds,
            "ingest_s": ingest_seconds,
            "chunks_per_s": chunks / ingest_seconds,
        }
        texts = [q.question for q in questions]
        result |= _latency(search, texts[: LATENCY_QUERIES + WARMUP])
        if workload == "squad":
            ranks = [
                first_relevant_rank(
                    search(q.question), Gold.of(q.answers, squad.document_name(q.article))
                )
                for q in questions
            ]
            result["hit@5"] = hit_at(ranks, TOP_K)
        result["peak_rss_mib"] = _rss_mib()
    return result


def _run_worker(system: str, workload: str) -> dict[str, Any]:
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench.peers", "--worker", system, workload],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{system} on {workload} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def ratios(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per workload and peer: median Syllabus/peer ratios of ingestion time, memory, latency."""
    out = {}
    for workload in {r["workload"] for r in rows}:
        mine = [r for r in rows if r["workload"] == workload and r["system"] == "syllabus"]
        for peer in SYSTEMS[1:]:
            theirs = [r for r in rows if r["workload"] == workload and r["system"] == peer]
            if not mine or not theirs:
                continue
            key = f"{workload}/{peer}"
            out[key] = {
                metric: statistics.median(m[metric] for m in mine)
                / statistics.median(t[metric] for t in theirs)
                for metric in ("ingest_s", "peak_rss_mib", "p50_ms", "p99_ms")
            }
            if workload == "squad":
                out[key]["hit@5_delta"] = statistics.median(
                    m["hit@5"] for m in mine
                ) - statistics.median(t["hit@5"] for t in theirs)
    return out


def markdown(rows: Sequence[dict[str, Any]], summary: dict[str, dict[str, float]]) -> str:
    columns = ("workload", "system", "chunks", "ingest s", "chunks/s", "model load s",
               "peak MiB", "p50 ms", "p99 ms", "hit@5")  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in sorted(rows, key=lambda r: (r["workload"], SYSTEMS.index(r["system"]))):
        hit = f"{r['hit@5']:.3f}" if "hit@5" in r else "-"
        lines.append(
            f"| {r['workload']} | {r['system']} | {r['chunks']} | {r['ingest_s']:.1f} | "
            f"{r['chunks_per_s']:.1f} | {r['model_load_s']:.1f} | {r['peak_rss_mib']:.0f} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {hit} |"
        )
    lines += ["", "| Syllabus / peer (medians) | ingest time | peak memory | p50 | p99 | hit@5 Δ |"]
    lines.append("|" + "---|" * 6)
    for key, r in sorted(summary.items()):
        delta = f"{r['hit@5_delta']:+.3f}" if "hit@5_delta" in r else "-"
        lines.append(
            f"| {key} | {r['ingest_s']:.2f} | {r['peak_rss_mib']:.2f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {delta} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench.peers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--worker", nargs=2, metavar=("SYSTEM", "WORKLOAD"), help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workload", choices=WORKLOADS, action="append")
    parser.add_argument("--system", choices=SYSTEMS, action="append")
    parser.add_argument("--out", type=Path, default=Path("var/bench/peers.json"))
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(work(*args.worker)))
        return
    systems = list(args.system or SYSTEMS)
    rows = []
    for run in range(args.runs):
        order = systems[run % len(systems) :] + systems[: run % len(systems)]
        for workload in args.workload or WORKLOADS:
            for system in order:
                row = _run_worker(system, workload) | {"run": run}
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
    summary = ratios(rows)
    report = {"git_commit": git_commit(), "runs": args.runs, "rows": rows, "ratios": summary}
    text = markdown(rows, summary)
    write_report(report, text, args.out)
    print(text)


if __name__ == "__main__":
    main()
