"""Load test of a running service on this machine: many clients at once, bounded.

Run: ``python -m eval.bench.load --url http://127.0.0.1:8000 [--searches 5000] [--asks 200]
[--concurrency 32] [--max-seconds 600] [--out FILE]`` against a ``syllabus serve`` with
rate limits off (``SYLLABUS_RATE_LIMIT_PER_MINUTE=0``: every client here shares one
address).  ``--concurrency`` clients send the ``/v1/search`` and ``/v1/ask`` requests,
asks spread evenly among the searches, until all are sent or ``--max-seconds`` pass.

Asks are streamed (server-sent events), so their time to first token is measured
as well as their total.  It reports, per endpoint, the statuses, requests/s,
p50/p99 latency and the designed ``503``
backpressure (a full generation queue), and the server's resident memory before and
after (``process_resident_memory_bytes`` from ``/metrics``).  The exit status is 1 if any
request got a 5xx other than 503, or no answer at all.  Only loopback URLs are accepted:
this is a tool for measuring one's own deployment, not anyone else's.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from eval.bench.latency import QUESTIONS

_MEMORY_METRIC = "process_resident_memory_bytes"


@dataclass(frozen=True, slots=True)
class Outcome:
    endpoint: str
    status: int  # 0: no response (connection error or client timeout)
    seconds: float
    first_token_seconds: float | None = None  # asks: when the first ``token`` event came
    first_content_seconds: float | None = None  # asks: the ``draft`` or the first token


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plan(searches: int, asks: int) -> list[str]:
    """The order of requests: ``asks`` spread evenly among ``searches``."""
    total = searches + asks
    every = total / asks if asks else 0.0
    ask_at = {round(i * every) for i in range(asks)}
    return ["ask" if i in ask_at else "search" for i in range(total)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def resident_memory(client: httpx.Client, url: str) -> int | None:
    """The server's resident memory in bytes, from its Prometheus metrics."""
    text = client.get(f"{url}/metrics", timeout=30).text
    for line in text.splitlines():
        if line.startswith(_MEMORY_METRIC + " "):
            return int(float(line.split()[1]))
    return None


async def _ask(client: httpx.AsyncClient, url: str, question: str) -> Outcome:
    """A streamed ask, timed to its first content (the draft or a token), its first
    ``token`` event and its end."""
    started = time.perf_counter()
    first: float | None = None
    content: float | None = None
    body = {"question": question, "stream": True}
    try:
        async with client.stream("POST", f"{url}/v1/ask", json=body) as response:
            status = response.status_code
            async for line in response.aiter_lines():
                if content is None and line in ("event: draft", "event: token"):
                    content = time.perf_counter() - started
                if first is None and line == "event: token":
                    first = time.perf_counter() - started
    except httpx.HTTPError:
        status = 0
    return Outcome("/v1/ask", status, time.perf_counter() - started, first, content)


async def _send(client: httpx.AsyncClient, url: str, endpoint: str, n: int) -> Outcome:
    question = QUESTIONS[n % len(QUESTIONS)]
    if endpoint == "ask":
        return await _ask(client, url, question)
    started = time.perf_counter()
    try:
        response = await client.post(f"{url}/v1/search", json={"query": question, "top_k": 5})
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    return Outcome("/v1/search", status, time.perf_counter() - started)


async def run(url: str, order: list[str], concurrency: int, max_seconds: float) -> list[Outcome]:
    """Send ``order`` with ``concurrency`` clients until done or ``max_seconds`` pass."""
    deadline = time.monotonic() + max_seconds
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for item in enumerate(order):
        queue.put_nowait(item)
    outcomes: list[Outcome] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(max(30.0, max_seconds))

    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

        async def worker() -> None:
            while not queue.empty() and time.monotonic() < deadline:
                n, endpoint = queue.get_nowait()
                outcomes.append(await _send(client, url, endpoint, n))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes


def summary(outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    by_endpoint: dict[str, Any] = {}
    for endpoint in sorted({o.endpoint for o in outcomes}):
        mine = [o for o in outcomes if o.endpoint == endpoint]
        ok = [o.seconds * 1000 for o in mine if o.status == 200]
        by_endpoint[endpoint] = {
            "requests": len(mine),
            "statuses": dict(sorted(Counter(str(o.status) for o in mine).items())),
            "p50_ms": round(statistics.median(ok), 1) if ok else None,
            "p99_ms": round(percentile(ok, 0.99), 1) if ok else None,
            "requests_per_second": round(len(mine) / seconds, 1) if seconds else None,
        }
        for name in ("first_content", "first_token"):
            times = [getattr(o, f"{name}_seconds") for o in mine]
            ms = [t * 1000 for t in times if t is not None]
            if ms:
                by_endpoint[endpoint] |= {
                    f"{name}_p50_ms": round(statistics.median(ms), 1),
                    f"{name}_p99_ms": round(percentile(ms, 0.99), 1),
                }
    failures = [o for o in outcomes if o.status == 0 or (o.status >= 500 and o.status != 503)]
    return {
        "requests": len(outcomes),
        "seconds": round(seconds, 1),
        "requests_per_second": round(len(outcomes) / seconds, 1) if seconds else None,
        "errors_5xx_other_than_503": sum(o.status >= 500 and o.status != 503 for o in outcomes),
        "overloaded_503": sum(o.status == 503 for o in outcomes),
        "rate_limited_429": sum(o.status == 429 for o in outcomes),
        "no_response": sum(o.status == 0 for o in outcomes),
        "passed": not failures,
        "endpoints": by_endpoint,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--searches", type=int, default=5000)
    parser.add_argument("--asks", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    url = args.url.rstrip("/")
    if not is_loopback(url):
        parser.error(f"{url} is not a loopback address; load-test only your own machine")
    if min(args.searches, args.asks) < 0 or args.concurrency < 1 or args.max_seconds <= 0:
        parser.error("counts must be >= 0, --concurrency >= 1 and --max-seconds > 0")
    with httpx.Client() as client:
        before = resident_memory(client, url)
        started = time.monotonic()
        order = plan(args.searches, args.asks)
        outcomes = asyncio.run(run(url, order, args.concurrency, args.max_seconds))
        elapsed = time.monotonic() - started
        after = resident_memory(client, url)
    result = {
        "url": url,
        "planned": {"searches": args.searches, "asks": args.asks},
        "concurrency": args.concurrency,
        **summary(outcomes, elapsed),
        "memory_mib": {
            "before": round(before / 2**20, 1) if before else None,
            "after": round(after / 2**20, 1) if after else None,
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
