"""The service's view of the collections: one reader per collection, opened on demand.

Each access checks ``CURRENT``, so a newly published version is served from
the next request on, without a restart; requests already running finish on
the version they started with. Each access also checks the collection's
``course.json`` (:mod:`service.course`): an invalid one makes the collection
unavailable until it is fixed.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from indexes import DataRoot, Embedder, FusionWeights, IndexError_, IndexReader
from indexes.collections import CollectionInfo
from service.course import CourseConfig, CourseConfigInvalid, Courses
from service.errors import CollectionUnavailable, NotFound

log = logging.getLogger(__name__)


class Library:
    def __init__(
        self,
        root: DataRoot,
        embedder: Embedder,
        weights: FusionWeights,
        courses: Courses | None = None,
    ) -> None:
        self._root = root
        self.courses = courses or Courses()
        self._embedder = embedder
        self._weights = weights
        self._readers: dict[str, IndexReader] = {}
        self._lock = threading.Lock()

    def reader(self, name: str) -> IndexReader:
        """The up-to-date reader of collection ``name``; ``NotFound`` if it has no index,
        ``CollectionUnavailable`` if it or its course settings cannot be used."""
        with self._lock:
            reader = self._readers.get(name)
            if reader is None:
                try:
                    collection = self._root.existing(name)
                except IndexError_ as exc:
                    raise NotFound(f"unknown collection {name!r}") from exc
                try:
                    reader = IndexReader(collection.path, self._embedder, self._weights)
                except IndexError_ as exc:
                    raise CollectionUnavailable(
                        f"collection {name!r} cannot be served: {exc}"
                    ) from exc
                self._readers[name] = reader
        self._course_at(name, reader.root)
        reader.refresh()
        return reader

    def folder(self, name: str) -> Path:
        """The folder of collection ``name``; ``NotFound`` if it has no index."""
        try:
            return self._root.existing(name).path
        except IndexError_ as exc:
            raise NotFound(f"unknown collection {name!r}") from exc

    def course(self, name: str) -> CourseConfig:
        """Collection ``name``'s own settings (none set: an empty config)."""
        opened = self._readers.get(name)
        return self._course_at(name, opened.root if opened else self.folder(name))

    def _course_at(self, name: str, folder: Path) -> CourseConfig:
        try:
            return self.courses.config(folder)
        except CourseConfigInvalid as exc:
            raise CollectionUnavailable(f"collection {name!r} is unavailable: {exc}") from exc

    def open_all(self) -> int:
        """Open every collection's reader now (servers warm up with this); how many opened.

        A collection that cannot be opened is logged and left to fail on request,
        as it would have without the warm-up.
        """
        opened = 0
        for collection in self._root.collections():
            try:
                self.reader(collection.name)
            except (CollectionUnavailable, NotFound) as exc:
                log.warning("collection %r not opened at start: %s", collection.name, exc)
            else:
                opened += 1
        return opened

    def names(self) -> list[str]:
        """The collections that have a folder, by name (nothing of them is read)."""
        return [c.name for c in self._root.collections()]

    def collections(self) -> list[CollectionInfo]:
        """The collections that can be read; a damaged one is logged and left out."""
        found = []
        for collection in self._root.collections():
            try:
                found.append(collection.info())
            except IndexError_ as exc:
                log.warning("collection %r left out of the list: %s", collection.name, exc)
        return found
