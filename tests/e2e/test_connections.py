"""Clients that hold connections open cannot take the service down (real server, sockets)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from eval.bench.connections import closed_now
from indexes import IndexReader
from ingest import IngestReport
from tests.servers import serving

pytestmark = pytest.mark.integration

CAP = 40


@pytest.fixture(scope="module")
def guarded(
    demo_index: tuple[IndexReader, IngestReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    env = {"SYLLABUS_HEADER_TIMEOUT": "1", "SYLLABUS_MAX_CONNECTIONS": str(CAP)}
    home: Path = tmp_path_factory.mktemp("guarded")
    with serving({"default": demo_index[0].root}, home, env) as url:
        yield url


def _open(url: str) -> socket.socket:
    parts = urlsplit(url)
    client = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return client


def _closed_within(client: socket.socket, seconds: float) -> bool:
    client.settimeout(seconds)
    try:
        return client.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_request_whose_headers_never_end_is_closed(guarded: str) -> None:
    slow = _open(guarded)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    started = time.monotonic()
    assert _closed_within(slow, 5)
    assert time.monotonic() - started < 4
    drip = _open(guarded)
    started = time.monotonic()
    try:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n":  # a byte at a time: one deadline
            drip.sendall(bytes([byte]))
            time.sleep(0.1)
        assert _closed_within(drip, 3)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while it was still dripping
    assert time.monotonic() - started < 5
    assert httpx.get(f"{guarded}/healthz", timeout=5).status_code == 200


def test_a_full_server_makes_room_for_a_client_that_asks(guarded: str) -> None:
    held = [_open(guarded) for _ in range(CAP * 2)]  # connections that never send a request
    try:
        # While they are held, a real request still gets in: the longest-waiting silent
        # connection is closed to make room for it.
        assert httpx.get(f"{guarded}/healthz", timeout=5).status_code == 200
        open_now = [c for c in held if not closed_now(c)]  # before the 1 s deadline
        assert len(open_now) < CAP  # never more than the cap open
        assert held[-1] in open_now  # the newest were kept: the longest-waiting made room
    finally:
        for client in held:
            client.close()
