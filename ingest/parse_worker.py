"""The parse worker: a child process that turns files into documents, under limits.

``python -m ingest.parse_worker MEMORY_MB PARENT_PID`` answers one request at a time
on its standard streams.  A request is two frames, the file's name and its bytes; the
answer is one frame: the document as JSON lines (:func:`encode_document`) or
``{"error": reason}``.  A frame is an 8-byte big-endian length, then that many bytes.

Why a process (issue 16): a parser that spends minutes on a hostile PDF, or gigabytes
on a page of a million tags, cannot be stopped from inside the process that runs it.
Here its address space is limited to MEMORY_MB (``RLIMIT_AS``): an allocation past
it ends the worker with :data:`MEMORY_EXIT`; the parent kills it when it runs out of
time (``ingest.parsing``); and on Linux it dies with the thread that started it
(``PR_SET_PDEATHSIG``), so a server killed mid-parse leaves no parse behind.  The answer
is JSON, never pickle: the parent does not run what a subverted parser sends.

This module imports only the loaders, so the worker starts in a few tens of ms.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ingest import loaders
from ingest.documents import Block, Document, LoadError

MEMORY_EXIT = 75  # the worker's exit status when the file needed more memory than allowed
READY = b"ready"
_BATCH = 4096  # blocks per line of an answer
_LENGTH = struct.Struct(">Q")


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame, or ``None`` at the end of the stream."""
    header = stream.read(_LENGTH.size)
    if not header:
        return None
    if len(header) < _LENGTH.size:
        raise EOFError("the stream ended inside a frame")
    (size,) = _LENGTH.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the stream ended inside a frame")
    return payload


def encode_document(document: Document) -> bytes:
    """A title line, then lines of up to ``_BATCH`` blocks each; heading paths are sent
    once, in a line before the first batch that uses them, and blocks name them by
    number.  Batches keep both sides fast (one C-encoded list a line) and small."""
    numbers: dict[tuple[str, ...], int] = {}
    out = bytearray(json.dumps({"title": document.title}).encode("ascii"))
    blocks = document.blocks
    for first in range(0, len(blocks), _BATCH):
        batch = blocks[first : first + _BATCH]
        new = []
        for block in batch:
            if block.heading_path not in numbers:
                numbers[block.heading_path] = len(numbers)
                new.append(block.heading_path)
        if new:
            out += b"\n" + json.dumps({"paths": new}).encode("ascii")
        rows = [[b.text, b.start, b.end, numbers[b.heading_path], b.page] for b in batch]
        out += b"\n" + json.dumps(rows).encode("ascii")
    return bytes(out)


def encode_error(reason: str) -> bytes:
    return json.dumps({"error": reason}).encode("ascii")


def _lines(payload: bytes | bytearray) -> Iterator[bytes | bytearray]:
    start = 0
    while start < len(payload):
        end = payload.find(b"\n", start)
        end = len(payload) if end < 0 else end
        yield payload[start:end]
        start = end + 1


def decode_answer(payload: bytes | bytearray) -> Document:
    """The document an answer holds; ``LoadError`` with the worker's reason for an error.

    Decoded a line at a time, so a document of a million blocks never exists twice."""
    lines = _lines(payload)
    try:
        head = json.loads(next(lines))
        if "error" in head:
            raise LoadError(str(head["error"]))
        paths: list[tuple[str, ...]] = []
        blocks: list[Block] = []
        for line in lines:
            item = json.loads(line)
            if isinstance(item, dict):
                paths += [tuple(str(h) for h in path) for path in item["paths"]]
                continue
            for text, start, end, path, page in item:
                blocks.append(Block(text, start, end, paths[path], page))
        return Document(title=str(head["title"]), blocks=blocks)
    except (StopIteration, ValueError, KeyError, TypeError, IndexError) as exc:
        raise LoadError(f"the parse worker's answer was unreadable ({exc})") from None


def answer(name: str, data: bytes) -> bytes:
    """The answer to one request; a ``MemoryError`` is left to the caller."""
    try:
        document = loaders.load(Path(name), data)
    except LoadError as exc:
        return encode_error(str(exc))
    except MemoryError:
        raise
    except Exception as exc:  # any parser failure is this file's, as in the pipeline
        return encode_error(f"{type(exc).__name__}: {exc}")
    return encode_document(document)


def _limit_memory(megabytes: int) -> None:
    import resource

    limit = megabytes * 1024 * 1024
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file
    except (ValueError, OSError) as exc:
        print(f"parse worker: memory limit not set ({exc})", file=sys.stderr)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # it died before we asked
        os._exit(0)


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer requests until the parent closes the stream."""
    write_frame(answers, READY)
    while (name := read_frame(requests)) is not None:
        data = read_frame(requests)
        if data is None:
            return
        try:
            write_frame(answers, answer(name.decode("utf-8"), data))
        except MemoryError:
            os._exit(MEMORY_EXIT)  # nothing more is allocated: the parent reads the status
        del data  # not held while waiting for the next request


def main() -> None:
    memory_mb, parent = int(sys.argv[1]), int(sys.argv[2])
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _limit_memory(memory_mb)
    # The answers get their own descriptor; anything a library prints goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
