"""Answers: Syllabus against LangChain's and LlamaIndex's stock question answering, same model.

The three systems answer the same questions over the same corpus folder, chunked
to the same size and overlap (Syllabus's defaults, in word pieces of the
embedder), embedded with the same all-MiniLM-L6-v2 weights, and generate with the
same GGUF (the configured default model) through the same llama.cpp build and CPU
kernels, with the same context, threads, flash attention, temperature 0 and answer-token
limit:

* **syllabus**: ``syllabus eval run`` in process, its own ``/v1/ask``;
* **langchain**: ``RetrievalQA.from_chain_type(ChatLlamaCpp, chain_type="stuff")``
  over a ``FAISS`` store, its stock prompt and its stock four passages;
* **llamaindex**: ``VectorStoreIndex.as_query_engine(llm=LlamaCPP)`` over a
  ``FaissVectorStore``, its stock prompt and two passages, the model's own chat
  template around the prompt (LlamaIndex's default is LLaMA 2's).

The stock chains keep no conversation, so a follow-up is asked as the text Syllabus
retrieves it with (``retrieval_query`` over Syllabus's index of the same corpus): after
the previous user turn when it follows up on it.  Every answer is scored by
``eval.scoring.score`` as ``syllabus eval`` scores it (key points on what the
learner reads, SQuAD F1, abstention).  A peer's answer that declines ("I don't
know", "the context does not mention ...") counts as abstained.  *Invented* is
the share of answered sentences that the service's grounding check finds
unsupported by the passages that system gave its model: for Syllabus its own
verdicts (with the collection's vocabulary, the stricter form), for a peer the same
check without it.  Syllabus shows only answers that pass that check, so its figure
is low by construction: it says that Syllabus kept its promise, not that the check
is independent of it.  The peers show nothing before their answer is
complete; Syllabus's first content is its draft.  Each system runs in its own
process, one after the other::

    pip install -e '.[bench]'
    python -m eval.bench.peer_answers eval/examples/learner-dev.jsonl --out var/bench/answers
    python -m eval.bench.peer_answers squad --split dev --limit 40 --out var/bench/answers-squad
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval import datasets, squad
from eval.bench.peers import langchain_models, langchain_store, llamaindex_index, llamaindex_models
from eval.provenance import git_commit, write_report
from eval.runner import RESULTS, RunOptions, prepare_collection, read_results, write_corpus
from eval.runner import run as run_eval
from eval.scoring import Observation, Passage, score, summarise
from indexes import DataRoot, IndexReader, SentenceTransformerEmbedder
from service.answering.retrieve import retrieval_query
from service.answering.verify import GroundingChecker
from service.generation.base import Message
from service.settings import Settings

SYSTEMS = ("syllabus", "langchain", "llamaindex")
# How a stock prompt's model says it cannot answer ("If you don't know the answer, just say
# that you don't know"): it does not know, or the context does not say.
_DONT_KNOW = re.compile(
    r"\b(?:(?:do not|don't|does not|doesn't|cannot|can't|can not) (?:know|answer)|"
    r"unable to (?:answer|find|determine)|(?:i'm|i am) not sure)\b",
    re.IGNORECASE,
)
_THE_CONTEXT = re.compile(
    r"\b(?:context|passages?|text|documents?|information|materials?|sources?)\b", re.IGNORECASE
)
_NOT = re.compile(r"\b(?:not|no|doesn't|don't|isn't|aren't|cannot|can't)\b", re.IGNORECASE)
# Qwen2.5's chat template, around LlamaIndex's completion prompt.
_CHATML = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
)

Answer = Callable[[str], tuple[str, list[Passage]]]


def declines(answer: str) -> bool:
    """Whether a stock chain's answer says it cannot answer (judged on its first sentence)."""
    first = re.split(r"(?<=[.!?])\s", answer.strip(), maxsplit=1)[0]
    says_not = bool(_THE_CONTEXT.search(first) and _NOT.search(first))
    return not answer.strip() or bool(_DONT_KNOW.search(first)) or says_not


def _corpus_folder(dataset: datasets.Dataset, scratch: Path) -> Path:
    """The folder Syllabus's collection for ``dataset`` is built from."""
    if not dataset.corpus:
        return squad.PROJECT_ROOT / "corpus"  # the demo collection: what `make serve` ingests
    folder = scratch / "corpus"
    write_corpus(dataset, folder)
    return folder


def _llama_kwargs(settings: Settings) -> dict[str, Any]:
    from service.generation.models import resolve_model_path

    threads = settings.n_threads or os.cpu_count() or 1
    return {
        "model_path": str(resolve_model_path(settings)),
        "n_ctx": settings.n_ctx,
        "n_threads": threads,
        "n_threads_batch": threads,
        "flash_attn": settings.flash_attention,  # as the service runs it
        "verbose": False,
    }


def _langchain(folder: Path, settings: Settings) -> Answer:
    from langchain_classic.chains import RetrievalQA
    from langchain_community.chat_models import ChatLlamaCpp

    store, _ = langchain_store(
        folder, langchain_models(), settings.chunk_tokens, settings.overlap_tokens
    )
    kwargs = _llama_kwargs(settings)
    llm = ChatLlamaCpp(
        model_path=kwargs["model_path"],
        n_ctx=kwargs["n_ctx"],
        n_threads=kwargs["n_threads"],
        n_batch=512,
        model_kwargs={"flash_attn": kwargs["flash_attn"]},
        max_tokens=settings.max_answer_tokens,
        temperature=0.0,
        verbose=False,
    )
    chain = RetrievalQA.from_chain_type(
        llm=llm, chain_type="stuff", retriever=store.as_retriever(), return_source_documents=True
    )

    def answer(query: str) -> tuple[str, list[Passage]]:
        out = chain.invoke({"query": query})
        shown = [
            Passage("", d.metadata["source"], d.page_content, d.metadata.get("page"))
            for d in out["source_documents"]
        ]
        return str(out["result"]), shown

    return answer


def _llamaindex(folder: Path, settings: Settings) -> Answer:
    from llama_index.llms.llama_cpp import LlamaCPP

    index, _ = llamaindex_index(
        folder, llamaindex_models(), settings.chunk_tokens, settings.overlap_tokens
    )
    kwargs = _llama_kwargs(settings)
    llm = LlamaCPP(
        model_path=kwargs.pop("model_path"),
        temperature=0.0,
        max_new_tokens=settings.max_answer_tokens,
        context_window=kwargs.pop("n_ctx"),
        model_kwargs=kwargs,
        generate_kwargs={},
        completion_to_prompt=lambda prompt: _CHATML.format(prompt=prompt),
        verbose=False,
    )
    engine = index.as_query_engine(llm=llm)

    def answer(query: str) -> tuple[str, list[Passage]]:
        out = engine.query(query)
        shown = [
            Passage(
                "", n.node.metadata["source"], n.node.get_content(), n.node.metadata.get("page")
            )
            for n in out.source_nodes
        ]
        return str(out.response), shown

    return answer


_PEERS: dict[str, Callable[[Path, Settings], Answer]] = {
    "langchain": _langchain,
    "llamaindex": _llamaindex,
}


def _peer_rows(system: str, args: argparse.Namespace, out: Path) -> None:
    """Answer every question with a stock chain; one scored row per question."""
    from service.generation.native import load_cpu_backend

    settings = Settings()
    dataset = datasets.load(args.dataset, args.split)
    items = datasets.sample(dataset.items, args.limit, args.seed)
    load_cpu_backend(settings.cpu_variant)  # the service's llama.cpp kernels, for all
    with tempfile.TemporaryDirectory() as scratch:
        folder = _corpus_folder(dataset, Path(scratch))
        answer = _PEERS[system](folder, settings)
        embedder = settings.embedder()
        embedder.load()
        checker = settings.checker(embedder)  # the service's sentence check
        reader = _syllabus_index(
            dataset, settings, embedder, RunOptions(args.dataset, out).work_dir
        )
        with (out / RESULTS).open("w", encoding="utf-8") as sink:
            for item in items:
                turns = [Message(role, content) for role, content in item.history]  # type: ignore[arg-type]
                query = retrieval_query(item.question, turns, reader)
                started = time.perf_counter()
                text, shown = answer(query)
                total = (time.perf_counter() - started) * 1000
                seen = Observation(
                    answer=text.strip(),
                    mode="abstained" if declines(text) else "generative",
                    reason="the stock chain",
                    cited=[],
                    retrieved=shown,
                    supported=supported(checker, text, shown),
                    best_score=None,
                    abstain_threshold=None,
                    timings={"first_token_ms": total, "total_ms": total},
                )
                sink.write(json.dumps(score(item, seen)) + "\n")
                sink.flush()


class _Quiet:
    def start(self, total: int, done: int) -> None: ...

    def advance(self, item_id: str) -> None:
        print(item_id, file=sys.stderr, flush=True)


def _syllabus_rows(args: argparse.Namespace, out: Path) -> None:
    settings = Settings(rate_limit_per_minute=0)
    options = RunOptions(args.dataset, out, args.split, args.limit, args.seed)
    if (out / RESULTS).exists():
        (out / RESULTS).unlink()  # one fresh run, like the peers'
    asyncio.run(run_eval(options, settings, _Quiet()))


def _syllabus_index(
    dataset: datasets.Dataset,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    work_dir: Path,
) -> IndexReader:
    """Syllabus's index of the dataset's corpus (the demo collection for our own sets):
    what tells a follow-up from a new question."""
    if not dataset.corpus:
        root = DataRoot(settings.data_dir).collection(settings.collection).path
    else:
        name = prepare_collection(dataset, work_dir, settings, embedder)
        root = DataRoot(work_dir / "collections").collection(name).path
    return IndexReader(root, embedder)


def supported(checker: GroundingChecker, answer: str, passages: Sequence[Passage]) -> list[bool]:
    """Per sentence of a peer's answer: supported by the passages its model was given."""
    verdict = checker.check(answer, [p.text for p in passages])
    return [s.supported for s in verdict.sentences]


def comparison(out: Path, systems: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each system's figures from its scored rows."""
    figures = {}
    for system in systems:
        rows = read_results(out / system / RESULTS)
        metrics = summarise(rows)
        figures[system] = {
            "questions": len(rows),
            "key_points_all": metrics["key_points"].get("all_covered"),
            "key_points_recall": metrics["key_points"].get("mean_recall"),
            "f1": metrics["answers"].get("f1") if any(r["golds"] for r in rows) else None,
            "covered_refused": _share(rows, answerable=True),
            "uncovered_abstained": _share(rows, answerable=False),
            "invented": _invented(metrics["grounding"]["supported_sentences"]),
            "first_content_p50_ms": metrics["latency"].get("first_token_ms", {}).get("p50"),
            "total_p50_ms": metrics["latency"].get("total_ms", {}).get("p50"),
        }
    return figures


def _invented(supported_share: float | None) -> float | None:
    return None if supported_share is None else 1 - supported_share


def _share(rows: Sequence[dict[str, Any]], *, answerable: bool) -> float | None:
    picked = [r for r in rows if r["answerable"] is answerable and r.get("error") is None]
    return sum(r["abstained"] for r in picked) / len(picked) if picked else None


_COLUMNS = (
    ("key_points_all", "all key points", "{:.3f}"),
    ("key_points_recall", "key-point recall", "{:.3f}"),
    ("f1", "F1", "{:.3f}"),
    ("covered_refused", "covered refused", "{:.3f}"),
    ("uncovered_abstained", "uncovered abstained", "{:.3f}"),
    ("invented", "invented", "{:.3f}"),
    ("first_content_p50_ms", "first content p50 ms", "{:.0f}"),
    ("total_p50_ms", "total p50 ms", "{:.0f}"),
)


def markdown(figures: dict[str, dict[str, Any]]) -> str:
    header = ["system", "questions", *(title for _, title, _ in _COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for system, row in figures.items():
        cells = [system, str(row["questions"])]
        cells += ["-" if row[k] is None else fmt.format(row[k]) for k, _, fmt in _COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _worker_command(system: str, args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "eval.bench.peer_answers", args.dataset, "--worker", system]
    command += ["--split", args.split, "--seed", str(args.seed), "--out", str(args.out)]
    return command + (["--limit", str(args.limit)] if args.limit else [])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench.peer_answers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", help="a JSONL set, or squad / scientific")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--system", choices=SYSTEMS, action="append")
    parser.add_argument("--out", type=Path, default=Path("var/bench/peer-answers"))
    parser.add_argument(
        "--rescore", action="store_true", help="only rebuild the table from the kept rows"
    )
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        out = args.out / args.worker
        out.mkdir(parents=True, exist_ok=True)
        if args.worker == "syllabus":
            _syllabus_rows(args, out)
        else:
            _peer_rows(args.worker, args, out)
        return
    systems = list(args.system or SYSTEMS)
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for system in [] if args.rescore else systems:
        subprocess.run(_worker_command(system, args), env=env, check=True)
    figures = comparison(args.out, systems)
    report = {
        "git_commit": git_commit(),
        "dataset": args.dataset,
        "split": args.split,
        "limit": args.limit,
        "figures": figures,
    }
    text = markdown(figures)
    write_report(report, text, args.out / "summary.json")
    print(text)


if __name__ == "__main__":
    main()
