"""Latency of the running service over HTTP: /v1/ask (streamed) and /v1/search.

Run: ``python -m eval.bench.latency [--url http://127.0.0.1:8000] [--rounds N]``
against a ``syllabus serve`` over the demo corpus.  First content is when
the ``draft`` (or a first ``token``) arrives, time to first token when the first
``token`` event does (asks whose answer streamed tokens); total is when ``done`` arrives.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import httpx

QUESTIONS = [
    "What does the forget gate in an LSTM do?",
    "Why is attention scaled by the square root of d_k?",
    "How much memory does the KV cache need per token?",
    "What is the rank r in LoRA?",
    "How does Adam correct the bias of its moment estimates?",
    "What is nucleus sampling?",
    "How does byte pair encoding build its vocabulary?",
    "What does HNSW efSearch control?",
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ask_once(client: httpx.Client, url: str, question: str) -> tuple[float, float, float, str]:
    """(first content ms: the draft or a token, first token ms: 0 if none, total ms, mode)"""
    started = time.perf_counter()
    content = first = total = 0.0
    mode = ""
    body = {"question": question, "stream": True}
    with client.stream("POST", f"{url}/v1/ask", json=body, timeout=300) as response:
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                now = time.perf_counter() - started
                content = content or (now if event in ("draft", "token") else 0.0)
                first = first or (now if event == "token" else 0.0)
                if event == "done":
                    total, mode = now, json.loads(line[6:])["mode"]
    return content * 1000, first * 1000, total * 1000, mode


def search_once(client: httpx.Client, url: str, query: str) -> float:
    started = time.perf_counter()
    client.post(f"{url}/v1/search", json={"query": query}).raise_for_status()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with httpx.Client() as client:
        asks = [ask_once(client, args.url, q) for _ in range(args.rounds) for q in QUESTIONS]
        searches = [search_once(client, args.url, q) for _ in range(25) for q in QUESTIONS]
    content, total = [a[0] for a in asks], [a[2] for a in asks]
    ttft = [a[1] for a in asks if a[1]] or [0.0]
    modes = {m: sum(a[3] == m for a in asks) for m in {a[3] for a in asks}}
    result = {
        "ask_requests": len(asks),
        "ask_first_content_p50_ms": round(statistics.median(content), 1),
        "ask_first_content_p95_ms": round(_percentile(content, 0.95), 1),
        "ask_ttft_p50_ms": round(statistics.median(ttft), 1),
        "ask_ttft_p95_ms": round(_percentile(ttft, 0.95), 1),
        "ask_total_p50_ms": round(statistics.median(total), 1),
        "ask_total_p95_ms": round(_percentile(total, 0.95), 1),
        "ask_modes": modes,
        "search_requests": len(searches),
        "search_p50_ms": round(statistics.median(searches), 1),
        "search_p99_ms": round(_percentile(searches, 0.99), 1),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
