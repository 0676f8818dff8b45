"""The service's view of the collections: one reader per collection, opened on demand.

Each access checks ``CURRENT``, so a newly published version is served from
the next request on, without a restart; requests already running finish on
the version they started with.
"""

from __future__ import annotations

import logging
import threading

from indexes import DataRoot, Embedder, FusionWeights, IndexError_, IndexReader
from indexes.collections import CollectionInfo
from service.errors import CollectionUnavailable, NotFound

log = logging.getLogger(__name__)


class Library:
    def __init__(self, root: DataRoot, embedder: Embedder, weights: FusionWeights) -> None:
        self._root = root
        self._embedder = embedder
        self._weights = weights
        self._readers: dict[str, IndexReader] = {}
        self._lock = threading.Lock()

    def reader(self, name: str) -> IndexReader:
        """The up-to-date reader of collection ``name``; ``NotFound`` if it has no index."""
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
        reader.refresh()
        return reader

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

    def collections(self) -> list[CollectionInfo]:
        return [c.info() for c in self._root.collections()]
