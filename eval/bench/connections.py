"""Silent and slowloris connections against a running ``syllabus serve``: are they closed,
and does ``/healthz`` answer while they are held?

Run: ``python -m eval.bench.connections --url http://127.0.0.1:8790 --connections 3000``.

Each connection sends a request line and one header, never the blank line that ends the
headers, and waits. ``/healthz`` is asked right after they are open, after 1 s, and after
12 s (past the default 10 s header deadline).
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import time
from urllib.parse import urlsplit

import httpx


def _health(url: str) -> dict[str, object]:
    started = time.perf_counter()
    try:
        status: object = httpx.get(f"{url}/healthz", timeout=10).status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return {"status": status, "ms": round((time.perf_counter() - started) * 1000, 1)}


def closed_now(client: socket.socket) -> bool:
    """Whether the server has closed ``client`` (without waiting)."""
    client.setblocking(False)
    try:
        return client.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def measure(url: str, connections: int) -> dict[str, object]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    parts = urlsplit(url)
    held = []
    for _ in range(connections):
        client = socket.create_connection((parts.hostname, parts.port), timeout=5)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        held.append(client)
    result: dict[str, object] = {"connections": len(held), "health_at_once": _health(url)}
    time.sleep(1)
    result["closed_after_1s"] = sum(closed_now(c) for c in held)
    result["health_after_1s"] = _health(url)
    time.sleep(11)
    result["closed_after_12s"] = sum(closed_now(c) for c in held)
    result["health_after_12s"] = _health(url)
    for client in held:
        client.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8790")
    parser.add_argument("--connections", type=int, default=3000)
    args = parser.parse_args()
    print(json.dumps(measure(args.url, args.connections), indent=2))


if __name__ == "__main__":
    main()
