"""Cold start: time from ``syllabus serve`` to a ``200`` from ``/readyz``, and what it is spent on.

Run: ``python -m eval.bench.coldstart [--runs 5] [--out var/bench/coldstart.json]``.

The demo ``corpus/`` is ingested once into a scratch data folder (not timed).
Each run then starts ``syllabus serve`` as a fresh process on a free loopback
port, polls ``/readyz`` every 10 ms and stops the server once it answers.  The
server's own startup line (``ready in ... (embedder ..., generator ...,
collections ...)``) splits the time: what the lifespan spent loading, and the
rest (interpreter, imports, uvicorn).  The first run uses an empty int8 model
cache, as a new machine's first start does (the model is built then); the
later runs reuse what it built.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from eval.provenance import git_commit, write_report
from service.paths import PROJECT_ROOT

SYLLABUS = [sys.executable, "-m", "service.cli"]
_READY_LINE = re.compile(r"ready in (?P<total>[\d.]+) s after the app started \((?P<parts>[^)]*)\)")
_PART = re.compile(r"(?P<name>\w+) (?P<seconds>[\d.]+) s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def parse_startup(log: str) -> dict[str, float]:
    """The lifespan's parts from the server's ``ready in`` line (empty when absent)."""
    found = _READY_LINE.search(log)
    if found is None:
        return {}
    parts = {m["name"]: float(m["seconds"]) for m in _PART.finditer(found["parts"])}
    return {"lifespan": float(found["total"])} | parts


def start_once(env: dict[str, str], timeout: float = 300.0) -> dict[str, float]:
    """Seconds from spawning ``syllabus serve`` until ``/readyz`` answers 200, with parts."""
    port = _free_port()
    with tempfile.TemporaryFile(mode="w+") as log:
        started = time.perf_counter()
        server = subprocess.Popen(
            [*SYLLABUS, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            ready = _wait_ready(port, server, started + timeout)
        finally:
            server.terminate()
            server.wait(timeout=30)
        log.seek(0)
        text = log.read()
    if ready is None:
        raise RuntimeError(f"the server did not become ready:\n{text[-3000:]}")
    parts = parse_startup(text)
    total = ready - started
    return {"total": total, **parts, "before_lifespan": total - parts.get("lifespan", 0.0)}


def _wait_ready(port: int, server: subprocess.Popen[Any], deadline: float) -> float | None:
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() < deadline and server.poll() is None:
            try:
                if client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    return time.perf_counter()
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    return None


def markdown(first: dict[str, float], warm: Sequence[dict[str, float]]) -> str:
    keys = ("total", "before_lifespan", "lifespan", "embedder", "generator", "collections")
    lines = ["| start | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
    rows = [("first (empty model cache)", first)]
    rows += [(f"median of {len(warm)} later starts", _medians(warm))] if warm else []
    for label, row in rows:
        cells = " | ".join(f"{row[k]:.2f} s" if k in row else "-" for k in keys)
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def _medians(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    keys = set.intersection(*(set(r) for r in rows))
    return {k: statistics.median(r[k] for r in rows) for k in keys}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench.coldstart",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=5, help="starts after the first")
    parser.add_argument("--out", type=Path, default=Path("var/bench/coldstart.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        env = os.environ | {
            "SYLLABUS_DATA_DIR": str(scratch / "data"),
            "SYLLABUS_EMBEDDING_CACHE_DIR": str(scratch / "models"),
            "SYLLABUS_ADMIN_API": "false",
        }
        subprocess.run(
            [*SYLLABUS, "ingest", str(PROJECT_ROOT / "corpus")],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        # The ingestion built the int8 model: empty the cache again for the first start.
        shutil.rmtree(scratch / "models", ignore_errors=True)
        first = start_once(env)
        print(json.dumps({"first": first}), file=sys.stderr, flush=True)
        warm = []
        for _ in range(args.runs):
            warm.append(start_once(env))
            print(json.dumps(warm[-1]), file=sys.stderr, flush=True)
    report = {"git_commit": git_commit(), "first": first, "warm": warm}
    text = markdown(first, warm)
    write_report(report, text, args.out)
    print(text)


if __name__ == "__main__":
    main()
