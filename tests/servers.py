"""Starting real server processes for tests: free ports, readiness, clean shutdown."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, deadline_s: float
) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"server at {url} not ready after {deadline_s}s:\n{log.read_text()[-3000:]}")


@contextmanager
def running(
    args: list[str],
    ready_url: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    deadline_s: float = 180,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` until the block ends, once ``ready_url`` answers 200."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            args, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            wait_until_ready(ready_url, process, log, deadline_s)
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill if it has not exited within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def syllabus_serve(port: int) -> list[str]:
    return [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]


@contextmanager
def serving(
    collections: Mapping[str, Path],
    home: Path,
    env: Mapping[str, str] | None = None,
    courses: Mapping[str, Mapping[str, object]] | None = None,
) -> Iterator[str]:
    """`syllabus serve` in its own process over copies of the given index directories.

    ``collections`` maps collection names to built indexes, ``courses`` some of them to
    their own settings (course.json); yields the base URL.
    """
    for name, index in collections.items():
        shutil.copytree(index, home / "collections" / name)
    for name, config in (courses or {}).items():
        (home / "collections" / name / "course.json").write_text(json.dumps(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"SYLLABUS_DATA_DIR": str(home / "collections"), **(env or {})}
    with running(syllabus_serve(port), f"{url}/readyz", home / "server.log", env):
        yield url


def sse_events(url: str, body: Mapping[str, object]) -> list[tuple[str, Any]]:
    """POST ``body`` to ``url`` as a stream; the (event, data) pairs it sent, in order."""
    found: list[tuple[str, Any]] = []
    with httpx.stream("POST", url, json=dict(body), timeout=300) as response:
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                found.append((kind, json.loads(line[6:])))
    return found
