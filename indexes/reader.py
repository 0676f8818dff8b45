"""Reading a published index: hybrid search, and switching to newer versions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from indexes import vectors
from indexes.embedder import Embedder
from indexes.errors import (
    READ_ERRORS,
    EmbedderMismatch,
    EmptyScope,
    IndexCorrupt,
    IndexNotFound,
)
from indexes.lexical import LexicalIndex
from indexes.manifest import Manifest, read_manifest
from indexes.records import DocumentRecord, Hit
from indexes.scope import Scope
from indexes.search import FusionWeights, fuse, top_rows
from indexes.store import STORE_NAME, ChunkStore
from indexes.versions import VersionedDir

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One loaded version; requests hold on to it, so a switch never tears one."""

    number: int
    manifest: Manifest
    vectors: Any
    lexical: LexicalIndex
    store: ChunkStore


def _plain(exc: BaseException, root: Path) -> str:
    """An error's message without the server's folders (it may reach a client)."""
    return str(exc).replace(str(root.parent), "…")[:300] or type(exc).__name__


def _load_version(directory: VersionedDir, number: int, embedder: Embedder) -> _Snapshot:
    path = directory.version_dir(number)
    manifest = read_manifest(path)
    manifest.check_embedder(embedder.name, embedder.backend, directory.root)
    store = ChunkStore(path / STORE_NAME)
    store.documents()  # reads the store once: a damaged one fails here, not on a request
    return _Snapshot(
        number=manifest.version,
        manifest=manifest,
        vectors=vectors.read_index(path),
        lexical=LexicalIndex.load(path),
        store=store,
    )


def _load(directory: VersionedDir, embedder: Embedder) -> _Snapshot:
    """The published version, or, when it cannot be read, the newest one that can
    (loudly: an error is logged); ``IndexCorrupt`` when none can."""
    try:
        current = directory.current()
    except IndexCorrupt as exc:
        log.error("%s; looking for a readable version", exc)
        current = None
    if current is None and not directory.published():
        raise IndexNotFound(f"no index has been published in {directory.root.name}")
    order = [current] if current is not None else []
    order += [n for n in reversed(directory.published()) if n != current]
    problems = []
    for number in order:
        try:
            snapshot = _load_version(directory, number, embedder)
        except EmbedderMismatch:
            raise
        except READ_ERRORS as exc:
            problems.append(f"version {number}: {_plain(exc, directory.root)}")
            continue
        if problems:
            log.error(
                "%s: %s cannot be read; serving version %d instead",
                directory.root.name,
                "; ".join(problems),
                number,
            )
        return snapshot
    raise IndexCorrupt(f"no version of {directory.root.name} can be read: " + "; ".join(problems))


class IndexReader:
    """Searches the current version of one index directory.

    :meth:`refresh` moves to a newly published version; searches already
    running finish on the version they started with.
    """

    def __init__(
        self, root: Path, embedder: Embedder, weights: FusionWeights | None = None
    ) -> None:
        self._dir = VersionedDir(root)
        self._embedder = embedder
        self.weights = weights or FusionWeights()
        self._snapshot = _load(self._dir, embedder)
        self._switch = threading.Lock()
        self._unreadable: int | None = None  # a published version that failed to load
        self._reported: str | None = None

    @property
    def root(self) -> Path:
        return self._dir.root

    @property
    def version(self) -> int:
        return self._snapshot.number

    @property
    def manifest(self) -> Manifest:
        return self._snapshot.manifest

    @property
    def vocabulary(self) -> Mapping[str, int]:
        """Stemmed term -> the number of this version's chunks that hold it."""
        return self._snapshot.lexical.document_frequency

    def documents(self) -> list[DocumentRecord]:
        return self._snapshot.store.documents()

    def page_counts(self) -> dict[str, int]:
        """Last page with text of each paged document, by document id."""
        return self._snapshot.store.page_counts()

    def refresh(self) -> bool:
        """Load the published version if it is newer; ``True`` when it switched. A
        version that cannot be read is reported once, and the loaded one goes on serving."""
        with self._switch:
            try:
                current = self._dir.current()
            except IndexCorrupt as exc:
                self._report_once(str(exc))
                return False
            if current is None or current in (self._snapshot.number, self._unreadable):
                return False
            try:
                snapshot = _load_version(self._dir, current, self._embedder)
            except READ_ERRORS as exc:
                self._unreadable = current
                log.error(
                    "%s: version %d cannot be read (%s); version %d goes on serving",
                    self.root.name,
                    current,
                    _plain(exc, self.root),
                    self._snapshot.number,
                )
                return False
            self._snapshot = snapshot
            log.info("switched %s to version %d", self.root, self._snapshot.number)
            return True

    def _report_once(self, problem: str) -> None:
        if problem != self._reported:
            self._reported = problem
            log.error("%s; version %d goes on serving", problem, self._snapshot.number)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        query_vector: npt.NDArray[np.float32] | None = None,
        scope: Scope | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query``, fused from dense and BM25 rankings; with a
        ``scope``, of the chunks it holds only (:class:`EmptyScope` when it holds none)."""
        snap = self._snapshot
        if query_vector is None:
            query_vector = self._embedder.embed([query])[0]
        candidates = max(k, self.weights.candidates)
        lexical_scores = snap.lexical.scores(query)
        if scope is None:
            _, found = vectors.search(snap.vectors, query_vector[None, :], candidates)
            dense_rows = found[0]
        else:
            allowed = np.asarray(snap.store.rows_in(scope), dtype=np.int64)
            if len(allowed) == 0:
                raise EmptyScope(f"no passage of {self.root.name} is in {scope.describe()}")
            # Exact cosines of the scope's chunks: a scope is a few documents, and an
            # approximate (HNSW) search of the whole index could miss all of them.
            cosines = self._cosines(snap, allowed.tolist(), query_vector)
            dense_rows = allowed[np.argsort(-cosines, kind="stable")[:candidates]]
            masked = np.zeros_like(lexical_scores)
            masked[allowed] = lexical_scores[allowed]
            lexical_scores = masked
        lexical_rows = top_rows(lexical_scores, candidates)
        fused = fuse(dense_rows, lexical_rows, self.weights)[:k]
        rows = [f.row for f in fused]
        chunks = snap.store.chunks_at(rows)
        dense = self._cosines(snap, rows, query_vector)
        opening = snap.store.opens_section(rows, chunks)
        return [
            Hit(
                chunk=chunk,
                score=f.score,
                dense_score=float(cos),
                lexical_score=float(lexical_scores[f.row]) if snap.lexical.size else None,
                dense_rank=f.dense_rank,
                lexical_rank=f.lexical_rank,
                opens_section=opens,
            )
            for f, chunk, cos, opens in zip(fused, chunks, dense, opening, strict=True)
        ]

    @staticmethod
    def _cosines(
        snap: _Snapshot, rows: list[int], query_vector: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        if not rows:
            return np.zeros(0, dtype=np.float32)
        stored = np.stack([snap.vectors.reconstruct(int(r)) for r in rows])
        return np.asarray(stored @ query_vector, dtype=np.float32)
