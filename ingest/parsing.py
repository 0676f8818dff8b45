"""Parsing files under a time and memory budget, in a worker process (issue 16).

A hostile file (a 220 KB PDF whose pages take pypdf 30 s each, a page of a million
tags) must not hold ingestion, or the service's shutdown, for as long as the parser
cares to run.  :class:`ParseWorker` sends each file to one ``ingest.parse_worker``
child, reused from file to file, and waits at most the budget's seconds for the
document: past them it kills the child, and the file fails with "took longer than
20 s to parse"; a file that needs more memory than the budget ends the child, and
fails with "needed more than 2048 MB of memory to parse".  The next file gets a fresh
child.  :meth:`ParseWorker.close`, from any thread, kills a parse in progress, which
then raises :class:`ParseInterrupted`: the caller is stopping, and the file is not to
blame.

Exceptions::

    LoadError (ingest.documents)    the file cannot be ingested; the message says why
    └── BudgetExceeded              it needed more time or memory than the budget
    ParseInterrupted                the worker was closed while it parsed
    ParserUnavailable               the worker process did not start
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import ingest
from ingest import loaders
from ingest.documents import Document, LoadError
from ingest.parse_worker import MEMORY_EXIT, READY, decode_answer, write_frame

log = logging.getLogger(__name__)

_START_SECONDS = 60.0  # for the worker to start and say it is ready (a loaded machine)
_STOP_SECONDS = 5.0
_PACKAGE_ROOT = str(Path(ingest.__file__).resolve().parents[1])


@dataclass(frozen=True, slots=True)
class ParseBudget:
    """What parsing one file may take: wall-clock seconds, and megabytes of address space
    for the worker process (the interpreter and the parsers' code included)."""

    seconds: float = 60.0
    memory_mb: int = 2048

    def exceeds(self, other: ParseBudget) -> bool:
        """Whether this budget allows more than ``other`` in time or in memory."""
        return self.seconds > other.seconds or self.memory_mb > other.memory_mb


class BudgetExceeded(LoadError):
    """The file needed more time or memory to parse than the budget allows."""


class ParseInterrupted(Exception):
    """The parser was closed (the caller is stopping) while it parsed: not the file's fault."""


class ParserUnavailable(Exception):
    """The worker process could not be started: no file can be parsed."""


class Parser(Protocol):
    """Turns a file's bytes into a document; ``LoadError`` says why it cannot."""

    @property
    def budget(self) -> ParseBudget | None:
        """The limits each file is parsed under (``None``: none)."""

    def load(self, path: Path, data: bytes) -> Document: ...

    def stop(self) -> None:
        """Release what parsing holds (between runs); the next ``load`` starts again."""

    def close(self) -> None:
        """Stop for good, from any thread; a ``load`` in progress raises ``ParseInterrupted``."""


class InProcessParser:
    """Parses in the calling process, without limits (tests and measurements)."""

    budget: ParseBudget | None = None

    def load(self, path: Path, data: bytes) -> Document:
        return loaders.load(path, data)

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


def _read_exactly(stream: IO[bytes], size: int, deadline: float) -> bytearray:
    """``size`` bytes of ``stream``; ``TimeoutError`` past ``deadline``, ``EOFError`` if it ends."""
    fd = stream.fileno()
    buffer = bytearray()
    while len(buffer) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError
        chunk = os.read(fd, min(size - len(buffer), 1 << 20))
        if not chunk:
            raise EOFError
        buffer += chunk
    return buffer


def _read_frame(stream: IO[bytes], deadline: float) -> bytearray:
    size = int.from_bytes(_read_exactly(stream, 8, deadline), "big")
    return _read_exactly(stream, size, deadline)


class ParseWorker:
    """Parses files in a child process under ``budget``; see the module docstring.

    One thread owns the worker (calls :meth:`load` and :meth:`stop`); any thread may
    :meth:`close` it.  The child starts with the first file and lives until :meth:`stop`
    (the end of a run), so its memory is given back between runs.  On Linux it dies
    with the thread that started it, so the owner is a thread that outlives its runs.
    """

    def __init__(self, budget: ParseBudget | None = None) -> None:
        self._budget = budget or ParseBudget()
        self._lock = threading.Lock()  # guards _process and _closed against close()
        self._process: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None
        self._closed = False

    @property
    def budget(self) -> ParseBudget:
        return self._budget

    @property
    def pid(self) -> int | None:
        """The worker process's id while one runs (for diagnostics)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def load(self, path: Path, data: bytes) -> Document:
        process = self._running()
        assert process.stdin is not None and process.stdout is not None
        try:
            deadline = time.monotonic() + self._budget.seconds
            write_frame(process.stdin, path.name.encode("utf-8"))
            write_frame(process.stdin, data)
            answer = _read_frame(process.stdout, deadline)
        except TimeoutError:
            self._discard(process)
            if self._closed:
                raise ParseInterrupted("parsing was stopped") from None
            raise BudgetExceeded(f"took longer than {self._budget.seconds:g} s to parse") from None
        except (EOFError, OSError):  # the worker ended (or close killed it)
            raise self._death(process) from None
        except BaseException:  # Ctrl-C mid-request: the worker is busy, so it goes at once
            self._discard(process)
            raise
        return decode_answer(answer)

    def stop(self) -> None:
        with self._lock:
            process = self._process
        if process is not None:
            self._discard(process, gently=True)  # idle between files: it exits by itself
        if self._errors is not None:
            self._errors.close()
            self._errors = None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            process = self._process
        if process is not None:
            process.kill()  # only a signal: the owner's load sees the end and cleans up

    def _running(self) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._closed:
                raise ParseInterrupted("parsing was stopped")
            process = self._process
        if process is not None and process.poll() is None:
            return process
        if process is not None:
            self._discard(process)
        process = self._start()
        with self._lock:
            self._process = process
            closed = self._closed
        if closed:  # close() came while it started
            self._discard(process)
            raise ParseInterrupted("parsing was stopped")
        return process

    def _start(self) -> subprocess.Popen[bytes]:
        if self._errors is not None:
            self._errors.close()
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the child)
        path = os.environ.get("PYTHONPATH")
        env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, path]))}
        command = [sys.executable, "-m", "ingest.parse_worker"]
        command += [str(self._budget.memory_mb), str(os.getpid())]
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, env=env
        )
        try:
            assert process.stdout is not None
            if _read_frame(process.stdout, time.monotonic() + _START_SECONDS) != READY:
                raise EOFError
        except (TimeoutError, EOFError, OSError):
            self._discard(process)
            raise ParserUnavailable(f"the parse worker did not start: {self._stderr()}") from None
        return process

    def _discard(self, process: subprocess.Popen[bytes], *, gently: bool = False) -> None:
        """End ``process``: asked to (its input closed) when idle, else killed; then reaped."""
        with self._lock:
            if self._process is process:
                self._process = None
        try:
            if gently and process.stdin is not None:
                process.stdin.close()
                process.wait(_STOP_SECONDS)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def _death(self, process: subprocess.Popen[bytes]) -> Exception:
        """Why the worker ended while it parsed, as the exception to raise."""
        code = process.wait()
        self._discard(process)
        if self._closed:
            return ParseInterrupted("parsing was stopped")
        if code == MEMORY_EXIT:
            return BudgetExceeded(
                f"needed more than {self._budget.memory_mb} MB of memory to parse"
            )
        log.debug("parse worker ended with status %s: %s", code, self._stderr())
        if code == -signal.SIGKILL:
            return LoadError("the parser was killed while reading it (out of memory?)")
        if code < 0:
            return LoadError(f"the parser crashed ({signal.Signals(-code).name}) while reading it")
        return LoadError(f"the parser stopped (exit status {code}) while reading it")

    def _stderr(self) -> str:
        """The end of what the worker wrote to stderr, for a message or the debug log."""
        if self._errors is None or self._errors.closed:
            return ""
        self._errors.seek(0, os.SEEK_END)
        self._errors.seek(max(0, self._errors.tell() - 2000))
        return self._errors.read().decode("utf-8", "replace").strip()
