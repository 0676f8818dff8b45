"""Versioned index directories, atomic publication, and the writer's lock.

Layout of an index directory::

    CURRENT                 the number of the published version
    versions/<n>/           one complete, immutable version
    versions/.staging-<n>/  a version being written (never read)
    .lock                   held (flock) by the one process writing

A version is written in full under a staging name, renamed into place, and
only then named in ``CURRENT`` by an atomic ``os.replace``.  A writer killed
at any point leaves ``CURRENT`` naming a complete version.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from indexes.errors import IndexCorrupt, IndexLocked, IndexNotFound
from indexes.files import fsync_folder

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
VERSIONS = "versions"
STAGING_PREFIX = ".staging-"
LOCK = ".lock"


def _fsync_tree(folder: Path) -> None:
    """fsync every file under ``folder``, then every folder, deepest first."""
    entries = list(folder.rglob("*"))
    for path in entries:
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    folders = [folder, *(p for p in entries if p.is_dir())]
    for each in sorted(folders, key=lambda p: -len(p.parts)):
        fsync_folder(each)


class VersionedDir:
    """One index directory and its versions."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def current(self) -> int | None:
        """The published version's number, or ``None`` before the first;
        ``IndexCorrupt`` when ``CURRENT`` holds no version number."""
        try:
            text = (self.root / CURRENT).read_text(encoding="ascii", errors="replace").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexCorrupt(f"the CURRENT pointer of {self.root.name} cannot be read") from exc
        if not text.isdigit():
            raise IndexCorrupt(f"the CURRENT pointer of {self.root.name} is {text[:20]!r}")
        return int(text)

    def published(self) -> list[int]:
        """The numbers of the published versions on disk, oldest first."""
        versions = self.root / VERSIONS
        if not versions.is_dir():
            return []
        return sorted(int(e.name) for e in versions.iterdir() if e.name.isdigit() and e.is_dir())

    def version_dir(self, number: int) -> Path:
        return self.root / VERSIONS / str(number)

    def has_versions(self) -> bool:
        """Whether anything was published here, even if ``CURRENT`` is damaged."""
        try:
            return self.current() is not None
        except IndexCorrupt:
            return bool(self.published())

    def current_dir(self) -> Path:
        number = self.current()
        if number is None:
            raise IndexNotFound(f"no index has been published in {self.root.name}")
        return self.version_dir(number)

    def _numbers(self) -> list[int]:
        versions = self.root / VERSIONS
        if not versions.is_dir():
            return []
        found = []
        for entry in versions.iterdir():
            name = entry.name.removeprefix(STAGING_PREFIX)
            if name.isdigit():
                found.append(int(name))
        return sorted(found)

    def new_staging(self) -> tuple[int, Path]:
        """A fresh, empty staging directory and the version number it will publish as."""
        try:
            current = self.current() or 0
        except IndexCorrupt:
            current = 0  # a damaged pointer: the numbers on disk still say what is taken
        number = max([*self._numbers(), current]) + 1
        staging = self.root / VERSIONS / f"{STAGING_PREFIX}{number}"
        staging.mkdir(parents=True)
        return number, staging

    def publish(self, number: int, staging: Path) -> Path:
        """Move a complete staging directory into place and make it current."""
        final = self.version_dir(number)
        # Every file and folder of the version reaches the disk before CURRENT names it:
        # after a power cut, CURRENT never names a version whose files are empty.
        _fsync_tree(staging)
        staging.rename(final)
        fsync_folder(final.parent)
        pointer = self.root / f"{CURRENT}.tmp"
        with pointer.open("w", encoding="ascii") as handle:
            handle.write(f"{number}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(pointer, self.root / CURRENT)
        fsync_folder(self.root)
        log.info("published version %d of %s", number, self.root)
        return final

    def remove_staging(self) -> None:
        """Remove staging folders left by runs that did not finish (call under the lock)."""
        versions = self.root / VERSIONS
        if versions.is_dir():
            for entry in versions.iterdir():
                if entry.name.startswith(STAGING_PREFIX):
                    shutil.rmtree(entry, ignore_errors=True)

    def prune(self, keep: int = 2) -> None:
        """Remove staging leftovers and all but the newest ``keep`` published versions.

        The previous version stays so that a reader that opened it just before
        the switch can finish its request.
        """
        self.remove_staging()
        current = self.current()
        published = self.published()
        keep_set = set(published[-keep:]) | ({current} if current is not None else set())
        for number in set(published) - keep_set:
            shutil.rmtree(self.version_dir(number), ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the writer's lock, waiting up to ``wait_seconds`` for another writer.

        ``flock`` is released by the kernel when its holder dies, even by
        SIGKILL, so a killed ingestion never leaves the index locked.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                        raise IndexLocked(
                            f"another ingestion into {self.root} is running"
                            + (f" (pid {holder})" if holder else "")
                            + "; wait for it to finish or pass --wait SECONDS"
                        ) from None
                    time.sleep(0.1)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
            yield
        finally:
            os.close(fd)
