"""Generation speed: the service's embedded llama.cpp path against bare llama-cpp-python.

Run (after ``syllabus ingest corpus``, on an otherwise idle machine)::

    python -m eval.bench.generation [--models M ...] [--variants best haswell]
        [--questions 5] [--rounds 2] [--threads N] [--out var/bench/generation.json]

The prompts are the service's own: each learner question goes through the real
``Answerer`` over the demo collection (retrieval, the draft, the passage budget), and
the chat messages it would send the model are recorded. Then, for each packaged GGUF
and each CPU variant of llama.cpp (``best``: what the dispatch picks for this CPU;
``haswell``: the AVX2 kernels a portable build had before; ``haswell/plain``: those
without repacked weights or flash attention, as the service loaded its models before;
``NAME/extra``: with every extra buffer type, AMX tiles included; ``NAME/nofa``: without
flash attention only), one process loads the variant and runs every prompt twice in
turn: through ``LlamaCppGenerator`` (the service's worker thread, queue and event loop)
and through a bare ``llama_cpp.Llama`` with the same file, context, threads and call. A
variant is fixed per process, as llama.cpp keeps one CPU backend, so variants are
compared across processes of one run.

Per path it reports prompt tokens/s (prompt tokens over time to the first piece),
generated tokens/s (pieces after the first over the time after it), time to first
token and total, as medians over the prompts after one warm-up each, pooled over
``--rounds`` runs of every process in turn; and the ratio
of the service's figures to bare llama.cpp's. The report is JSON at ``--out`` and a
table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eval.bench.latency import QUESTIONS
from eval.provenance import git_commit
from service.generation.base import GenerationParams, Message
from service.generation.models import MODELS
from service.paths import PROJECT_ROOT

DEFAULT_OUT = PROJECT_ROOT / "var" / "bench" / "generation.json"


@dataclass(frozen=True, slots=True)
class Run:
    """One prompt through one path."""

    prompt_tokens: int
    pieces: int
    first_piece_s: float
    total_s: float

    @property
    def prompt_tps(self) -> float:
        return self.prompt_tokens / self.first_piece_s

    @property
    def generated_tps(self) -> float:
        after = self.total_s - self.first_piece_s
        return (self.pieces - 1) / after if self.pieces > 1 and after > 0 else 0.0


def summary(runs: Sequence[Run]) -> dict[str, float]:
    """Medians over the measured runs of one path."""

    def median(values: Iterator[float]) -> float:
        return round(statistics.median(values), 3)

    return {
        "prompt_tokens": median(r.prompt_tokens for r in runs),
        "prompt_tps": median(r.prompt_tps for r in runs),
        "generated_tps": median(r.generated_tps for r in runs),
        "first_token_s": median(r.first_piece_s for r in runs),
        "total_s": median(r.total_s for r in runs),
    }


# --- the service's prompts --------------------------------------------------------------


class _Recorder:
    """A generator that records the messages it is asked to answer and says nothing."""

    model_name = "recorder"
    queue_depth = 0

    def __init__(self) -> None:
        self.prompts: list[list[Message]] = []

    async def stream(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[str]:
        self.prompts.append(messages)
        if False:  # an async generator that yields nothing
            yield ""

    async def first_token_probability(self, messages: list[Message]) -> float | None:
        return None

    async def aclose(self) -> None:
        return None


def service_prompts(questions: Sequence[str]) -> tuple[list[list[Message]], int]:
    """The chat messages the service sends its model for each question, and its answer
    token limit: the real ``Answerer`` over the configured collection."""
    from indexes import DataRoot
    from service.answering import Answerer, Question
    from service.library import Library
    from service.settings import Settings

    settings = Settings()
    embedder = settings.embedder()
    embedder.load()
    library = Library(DataRoot(settings.data_dir), embedder, settings.fusion())
    recorder = _Recorder()
    policy = settings.policy(answer_strategy="auto")
    answerer = Answerer(library, embedder, recorder, settings.checker(embedder), policy)

    async def ask_all() -> None:
        for text in questions:
            await answerer.answer(Question(text=text, collection=settings.collection))

    asyncio.run(ask_all())
    if len(recorder.prompts) < len(questions):
        raise SystemExit(
            f"only {len(recorder.prompts)} of {len(questions)} questions reached the model "
            "(abstained?): is the demo collection ingested (`syllabus ingest corpus`)?"
        )
    return recorder.prompts, settings.max_answer_tokens


# --- one process: one model, one CPU variant, both paths ---------------------------------


def _bare_runs(llama: Any, chat: list[dict[str, str]], max_tokens: int) -> tuple[int, float, float]:
    started = time.perf_counter()
    first = 0.0
    pieces = 0
    for chunk in llama.create_chat_completion(
        messages=chat, stream=True, max_tokens=max_tokens, temperature=0.0
    ):
        if chunk["choices"][0]["delta"].get("content"):
            pieces += 1
            first = first or time.perf_counter() - started
    return pieces, first, time.perf_counter() - started


async def _service_run(
    generator: Any, messages: list[Message], max_tokens: int
) -> tuple[int, float, float]:
    started = time.perf_counter()
    first = 0.0
    pieces = 0
    async for _ in generator.stream(messages, GenerationParams(max_tokens=max_tokens)):
        pieces += 1
        first = first or time.perf_counter() - started
    return pieces, first, time.perf_counter() - started


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Load the variant and the model twice; run every prompt through both paths."""
    from llama_cpp import Llama

    from service.generation.embedded import LlamaCppGenerator, load_parameters
    from service.generation.models import packaged_gguf
    from service.generation.native import load_cpu_backend

    name, _, option = args.variant.partition("/")
    backend = load_cpu_backend(None if name == "best" else name)
    payload = json.loads(Path(args.prompts).read_text(encoding="utf-8"))
    prompts = [[Message(m["role"], m["content"]) for m in p] for p in payload["prompts"]]
    max_tokens = payload["max_tokens"]
    path = packaged_gguf(MODELS[args.model])
    # "/plain": no repacked weights either, as the service loaded models before; "/extra":
    # every extra buffer type, AMX tiles included (what the service leaves out on AMX);
    # "/nofa": no flash attention (the service's setting before it was measured).
    extra_buffers = {"plain": False, "extra": True}.get(option)
    flash_attention = option not in ("plain", "nofa")
    with load_parameters(backend, extra_buffers=extra_buffers):
        generator = LlamaCppGenerator(
            path, n_ctx=args.n_ctx, n_threads=args.threads, flash_attention=flash_attention
        )
    peers: dict[str, dict[str, Any]] = {"bare": {}}
    if args.lookup:
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        peers["bare+lookup"] = {"draft_model": LlamaPromptLookupDecoding(args.lookup)}
    with load_parameters(backend, extra_buffers=extra_buffers):
        bare = {
            name: Llama(
                model_path=str(path),
                n_ctx=args.n_ctx,
                n_threads=args.threads,
                n_threads_batch=args.threads,
                flash_attn=flash_attention,
                verbose=False,
                **extra,
            )
            for name, extra in peers.items()
        }
    runs: dict[str, list[Run]] = {name: [] for name in ("service", *bare)}

    async def measure() -> None:
        for n, messages in enumerate(prompts):
            tokens = generator.prompt_tokens(messages)
            chat = [{"role": m.role, "content": m.content} for m in messages]
            # Alternate which path goes first, so none always finds a warmer CPU.
            order = list(runs) if n % 2 == 0 else list(reversed(runs))
            for name in order:
                if name == "service":
                    pieces, first, total = await _service_run(generator, messages, max_tokens)
                else:
                    pieces, first, total = await asyncio.to_thread(
                        _bare_runs, bare[name], chat, max_tokens
                    )
                if n > 0:  # the first prompt warms the caches of both
                    runs[name].append(Run(tokens, pieces, first, total))

    try:
        asyncio.run(measure())
    finally:
        asyncio.run(generator.aclose())
        for llama in bare.values():
            llama.close()
    return {
        "model": args.model,
        "variant": f"{backend.variant}{'/' + option if option else ''}",
        "features": backend.features,
        "threads": args.threads,
        "runs": {k: [asdict(r) for r in v] for k, v in runs.items()},
    }


def with_summary(result: dict[str, Any]) -> dict[str, Any]:
    """A worker's result (its runs pooled over rounds) with medians and the ratios."""
    runs = {name: [Run(**r) for r in measured] for name, measured in result["runs"].items()}
    paths = {name: summary(measured) for name, measured in runs.items()}
    service, peer = paths["service"], paths["bare"]
    ratio = {
        "prompt_tps": round(service["prompt_tps"] / peer["prompt_tps"], 3),
        "generated_tps": round(service["generated_tps"] / peer["generated_tps"], 3),
    }
    return {**result, "paths": paths, "ratio": ratio}


# --- the whole run ----------------------------------------------------------------------


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        "| model | variant | path | prompt tok/s | gen tok/s | first token s | total s |\n"
        "|---|---|---|---|---|---|---|"
    )
    rows = []
    for r in results:
        for path, s in r["paths"].items():
            rows.append(
                f"| {r['model']} | {r['variant']} | {path} | {s['prompt_tps']:.0f} | "
                f"{s['generated_tps']:.1f} | {s['first_token_s']:.2f} | {s['total_s']:.2f} |"
            )
        ratio = r["ratio"]
        rows.append(
            f"| {r['model']} | {r['variant']} | service / bare | {ratio['prompt_tps']:.2f}x | "
            f"{ratio['generated_tps']:.2f}x | | |"
        )
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--variants", nargs="+", default=["best", "haswell", "haswell/plain"])
    parser.add_argument("--questions", type=int, default=5, help="prompts (the first warms)")
    parser.add_argument("--rounds", type=int, default=2, help="times each process runs")
    parser.add_argument("--threads", type=int, default=None, help="default: the service's")
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument(
        "--lookup",
        type=int,
        default=0,
        help="also bare llama.cpp with prompt-lookup "
        "decoding drafting N tokens (llama-cpp-python's LlamaPromptLookupDecoding)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    one = sub.add_parser("worker", help="one model and variant (run by the main command)")
    one.add_argument("--model", required=True)
    one.add_argument("--variant", required=True)
    one.add_argument("--prompts", required=True)
    one.add_argument("--threads", type=int, required=True)
    one.add_argument("--n-ctx", type=int, default=2048)
    one.add_argument("--lookup", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "worker":
        print(json.dumps(worker(args)))
        return 0

    from service.generation.embedded import default_threads

    threads = args.threads or default_threads()
    prompts, max_tokens = service_prompts(QUESTIONS[: args.questions])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(
            {
                "prompts": [[{"role": m.role, "content": m.content} for m in p] for p in prompts],
                "max_tokens": max_tokens,
            },
            handle,
        )
    pooled: dict[tuple[str, str], dict[str, Any]] = {}
    # Rounds interleave the processes, so a slow spell of a shared host is spread out.
    for _ in range(args.rounds):
        for model, variant in ((m, v) for m in args.models for v in args.variants):
            command = [
                sys.executable, "-m", "eval.bench.generation", "worker",
                "--model", model, "--variant", variant, "--prompts", handle.name,
                "--threads", str(threads), "--n-ctx", str(args.n_ctx),
                "--lookup", str(args.lookup),
            ]  # fmt: skip
            done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{model} on {variant} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(_table([with_summary(result)]), file=sys.stderr)
            if (model, variant) in pooled:
                for name, measured in result["runs"].items():
                    pooled[model, variant]["runs"][name].extend(measured)
            else:
                pooled[model, variant] = result
    results = [with_summary(r) for r in pooled.values()]
    Path(handle.name).unlink()
    report = {
        "git_commit": git_commit(),
        "questions": QUESTIONS[1 : args.questions],
        "max_tokens": max_tokens,
        "threads": threads,
        "rounds": args.rounds,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
