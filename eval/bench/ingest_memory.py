"""Peak memory of ingesting one large file, per MB of input (BENCHMARKS.md, Reliability).

Run: ``python -m eval.bench.ingest_memory [--out var/bench/ingest-memory.json]``.

Each input is written here (nothing is downloaded): a 20 MB Markdown file that is one
line of words without a full stop, the same size of one-line short sentences, and a
9.9 MB HTML page of a million ``<p>`` paragraphs.  Each is ingested by a fresh process
(``--measure``) into a fresh index with the configured embedder's own tokenizer for
chunking; the vectors are not computed (a constant unit vector stands in: embedding
runs in bounded batches, and computing 20,000 vectors would take minutes without
changing the peak).  The process reports its resident memory once the tokenizer is
loaded (the baseline), its peak (``ru_maxrss``), the peak of the parse worker it
started (its own high-water mark, read as it runs), and its resident memory after the
run, when the memory should have been given back.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eval.provenance import git_commit, write_report
from ingest import Document
from ingest.parsing import ParseWorker

MB = 1_000_000
_VOCABULARY = (
    "gradient descent attention softmax token embedding layer weight bias learning rate "
    "optimizer momentum dropout batch norm residual encoder decoder head query key value "
    "loss entropy logits vocabulary transformer recurrent hidden state vector matrix"
)
_WORDS = _VOCABULARY.split()


def _words(rng: random.Random, size: int, separator: Callable[[int], str]) -> str:
    parts: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS) + separator(len(parts))
        parts.append(word)
        length += len(word)
    return "".join(parts)


def single_line_md(size: int) -> bytes:
    """One heading, then one line of ``size`` bytes of words and no sentence end."""
    rng = random.Random(0)
    return ("# One line\n\n" + _words(rng, size, lambda _: " ") + "\n").encode()


def sentences_md(size: int) -> bytes:
    """One line of ``size`` bytes of six-word sentences."""
    rng = random.Random(1)
    text = _words(rng, size, lambda i: ". " if i % 6 == 5 else " ")
    return ("# Sentences\n\n" + text.title() + "\n").encode()


def paragraphs_html(size: int) -> bytes:
    """About ``size`` bytes of HTML that is nothing but ``<p>`` paragraphs of one short word."""
    rng = random.Random(2)
    head = "<html><head><title>Paragraphs</title></head><body><h1>Paragraphs</h1>"
    count = (size - len(head)) // 10
    body = "".join(f"<p>{rng.choice(_WORDS)[:3]}</p>" for _ in range(count))
    return (head + body + "</body></html>").encode()


CASES: dict[str, Callable[[int], bytes]] = {
    "single-line.md": single_line_md,
    "sentences.md": sentences_md,
    "paragraphs.html": paragraphs_html,
}
SIZES = {"single-line.md": 20 * MB, "sentences.md": 20 * MB, "paragraphs.html": 9_900_000}


class TokenizerOnly:
    """The configured embedder's name and tokenizer, with a constant vector per text."""

    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder
        self.name: str = embedder.name
        self.backend: str = embedder.backend
        self.dimension: int = embedder.dimension
        self.max_tokens: int = embedder.max_tokens

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        vectors[:, 0] = 1.0
        return vectors

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = self._embedder.count_tokens(texts)
        return counts


def _status_mb(field: str, pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakRecordingWorker(ParseWorker):
    """The parse worker, noting the worker process's peak resident memory after each file
    (its ``ru_maxrss`` would count the pages it shared with this process before exec)."""

    peak_mb = 0.0

    def load(self, path: Path, data: bytes) -> Document:
        try:
            return super().load(path, data)
        finally:
            if self.pid is not None:
                self.peak_mb = max(self.peak_mb, _status_mb("VmHWM", self.pid))


def measure(path: Path, index: Path) -> dict[str, Any]:
    """Ingest ``path`` into ``index`` in this process; its memory, as the module says."""
    from service.settings import Settings

    settings = Settings()
    embedder = settings.embedder()
    embedder.load()
    embedder.count_tokens(["warm the tokenizer up"])
    baseline = _status_mb("VmRSS")
    worker = PeakRecordingWorker()
    started = time.perf_counter()
    report = settings.pipeline(TokenizerOnly(embedder), parser=worker).run([path], index)
    seconds = time.perf_counter() - started
    after = _status_mb("VmRSS")
    return {
        "input_mb": path.stat().st_size / MB,
        "baseline_mb": baseline,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mb": worker.peak_mb,
        "after_mb": after,
        "seconds": seconds,
        "chunks": report.chunks_embedded,
        "failed": [f"{f.source}: {f.reason}" for f in report.failed],
    }


def run_case(name: str, size: int, workdir: Path) -> dict[str, Any]:
    path = workdir / name
    path.write_bytes(CASES[name](size))
    command = [sys.executable, "-m", "eval.bench.ingest_memory", "--measure", str(path)]
    command += ["--index", str(workdir / f"index-{name}")]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: the measuring process failed:\n{done.stderr[-3000:]}")
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    grown = max(row["peak_mb"], row["worker_peak_mb"]) - row["baseline_mb"]
    row |= {"case": name, "peak_per_input_mb": grown / row["input_mb"]}
    path.unlink()
    return row


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| input | MB | chunks | baseline | peak (ingesting process) | peak (parse worker) "
        "| peak growth per MB of input | after the run | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['case']}` | {r['input_mb']:.1f} | {r['chunks']:,} | {r['baseline_mb']:.0f} MiB "
            f"| {r['peak_mb']:.0f} MiB | {r['worker_peak_mb']:.0f} MiB "
            f"| {r['peak_per_input_mb']:.1f} MiB | {r['after_mb']:.0f} MiB | {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench.ingest_memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", choices=sorted(CASES), action="append", help="these cases")
    parser.add_argument("--scale", type=float, default=1.0, help="input sizes times this")
    parser.add_argument("--out", type=Path, default=Path("var/bench/ingest-memory.json"))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.index)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.only or list(CASES):
            rows.append(run_case(name, int(SIZES[name] * args.scale), Path(workdir)))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    text = markdown(rows)
    write_report({"rows": rows, "commit": git_commit()}, text, args.out)
    print(text)


if __name__ == "__main__":
    main()
