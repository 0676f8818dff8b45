"""Writing a new index version from the previous one plus changed documents.

Unchanged documents keep their chunks and vectors (read back from the
previous version, never re-embedded); changed and new documents bring
theirs; removed ones are left out.  The result is written under a staging
name and published atomically.

When only the embedding backend changed (float32 to int8 or back, same
model), kept documents keep their chunks but are re-embedded from the stored
text, so one index never mixes the vectors of two backends.
"""

from __future__ import annotations

import errno
import logging
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from indexes import vectors
from indexes.errors import READ_ERRORS, DiskFull
from indexes.lexical import LexicalIndex
from indexes.manifest import (
    INTERCHANGEABLE_BACKENDS,
    ChunkerParams,
    Counts,
    EmbedderInfo,
    Manifest,
    library_versions,
    now,
    read_manifest,
    write_manifest,
)
from indexes.records import Chunk, DocumentRecord
from indexes.store import STORE_NAME, ChunkStore, write_store
from indexes.versions import VersionedDir

log = logging.getLogger(__name__)

DEFAULT_HNSW_THRESHOLD = 50_000

Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]


@dataclass(frozen=True, slots=True)
class DocumentChunks:
    """A new or changed document with its chunks and their vectors."""

    record: DocumentRecord
    chunks: list[Chunk]
    vectors: npt.NDArray[np.float32]


class IndexWriter:
    """Holds the index's write lock; see :meth:`open`."""

    def __init__(
        self,
        directory: VersionedDir,
        embedder: EmbedderInfo,
        chunker: ChunkerParams,
        hnsw_threshold: int,
        embed: Embed | None = None,
    ) -> None:
        self._dir = directory
        self._embedder = embedder
        self._chunker = chunker
        self._hnsw_threshold = hnsw_threshold
        self._embed = embed
        self.reembeds = False
        self._previous: tuple[Manifest, ChunkStore, Any] | None = self._load_previous()

    @classmethod
    @contextmanager
    def open(
        cls,
        root: Path,
        embedder: EmbedderInfo,
        chunker: ChunkerParams,
        *,
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        wait_seconds: float = 0.0,
        embed: Embed | None = None,
    ) -> Iterator[IndexWriter]:
        """Lock the index at ``root`` for writing (raises ``IndexLocked`` if taken).

        ``embed`` lets kept documents be re-embedded from their stored text when
        only the embedding backend changed; without it they are rebuilt from files.
        """
        directory = VersionedDir(root)
        with directory.lock(wait_seconds):
            directory.remove_staging()  # what a killed or failed run left, before writing
            writer = cls(directory, embedder, chunker, hnsw_threshold, embed)
            try:
                yield writer
            finally:
                writer._close()

    def _load_previous(self) -> tuple[Manifest, ChunkStore, Any] | None:
        """The published version to build on; ``None`` when there is none, or when it
        cannot be read (then every document is ingested again: a rebuild, not a crash)."""
        try:
            return self._read_previous()
        except READ_ERRORS as exc:
            log.warning(
                "the published version of %s cannot be read (%s); rebuilding every document",
                self._dir.root.name,
                exc,
            )
            return None

    def _read_previous(self) -> tuple[Manifest, ChunkStore, Any] | None:
        if self._dir.current() is None:
            return None
        path = self._dir.current_dir()
        manifest = read_manifest(path)
        if manifest.chunker == self._chunker and self._backend_only_change(manifest.embedder):
            log.info(
                "index %s holds %s vectors; re-embedding its documents with %s",
                self._dir.root,
                manifest.embedder.backend,
                self._embedder.backend,
            )
            self.reembeds = True
        elif manifest.embedder != self._embedder or manifest.chunker != self._chunker:
            log.warning(
                "index %s was built with %s / %s; rebuilding every document with %s / %s",
                self._dir.root,
                manifest.embedder,
                manifest.chunker,
                self._embedder,
                self._chunker,
            )
            return None
        store = ChunkStore(path / STORE_NAME)
        store.documents()  # a damaged store fails now, not halfway through the new version
        return manifest, store, vectors.read_index(path)

    def _backend_only_change(self, built: EmbedderInfo) -> bool:
        return (
            self._embed is not None
            and built != self._embedder
            and built.model_copy(update={"backend": self._embedder.backend}) == self._embedder
            and {built.backend, self._embedder.backend} <= INTERCHANGEABLE_BACKENDS
        )

    def _close(self) -> None:
        if self._previous is not None:
            self._previous[1].close()

    def previous_documents(self) -> dict[str, DocumentRecord]:
        """Documents of the current version, by path; empty when it must be rebuilt."""
        if self._previous is None:
            return {}
        return {d.path: d for d in self._previous[1].documents()}

    def commit(self, keep: Iterable[DocumentRecord], changed: Iterable[DocumentChunks]) -> Manifest:
        """Write and publish a version of the kept documents plus the changed ones."""
        documents: list[tuple[DocumentRecord, list[Chunk], npt.NDArray[np.float32]]] = [
            (c.record, c.chunks, c.vectors) for c in changed
        ]
        documents += self._carried_over(list(keep))
        documents.sort(key=lambda d: d[0].source)
        chunks = [chunk for _, doc_chunks, _ in documents for chunk in doc_chunks]
        matrix = np.concatenate(
            [v for _, _, v in documents]
            or [np.zeros((0, self._embedder.dimension), dtype=np.float32)]
        ).astype(np.float32)
        number, staging = self._dir.new_staging()
        try:
            manifest = self._write(number, staging, documents, chunks, matrix)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)  # a failed run leaves nothing behind
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise DiskFull(
                    f"no space left to write a new version of {self._dir.root.name}; "
                    "the previous version still serves"
                ) from exc
            raise
        self._dir.prune()
        return manifest

    def _write(
        self,
        number: int,
        staging: Path,
        documents: list[tuple[DocumentRecord, list[Chunk], npt.NDArray[np.float32]]],
        chunks: list[Chunk],
        matrix: npt.NDArray[np.float32],
    ) -> Manifest:
        vector_index = vectors.build_index(matrix, self._embedder.dimension, self._hnsw_threshold)
        vectors.write_index(vector_index, staging)
        LexicalIndex.build([c.embed_text for c in chunks]).save(staging)
        write_store(staging / STORE_NAME, (d for d, _, _ in documents), chunks)
        manifest = Manifest(
            version=number,
            created_at=now(),
            embedder=self._embedder,
            chunker=self._chunker,
            vector_index=vectors.kind_of(vector_index),
            counts=Counts(documents=len(documents), chunks=len(chunks)),
            documents={d.source: d.sha256 for d, _, _ in documents},
            libraries=library_versions(),
        )
        write_manifest(manifest, staging)
        self._dir.publish(number, staging)
        return manifest

    def _carried_over(
        self, keep: list[DocumentRecord]
    ) -> list[tuple[DocumentRecord, list[Chunk], npt.NDArray[np.float32]]]:
        if not keep:
            return []
        if self._previous is None:
            raise ValueError("documents can only be kept from a compatible previous version")
        _, store, index = self._previous
        rows_by_doc = store.rows_of(d.doc_id for d in keep)
        chunks_of = [[chunk for _, chunk in rows_by_doc[d.doc_id]] for d in keep]
        if self.reembeds and self._embed is not None:
            matrix = self._embed([c.embed_text for chunks in chunks_of for c in chunks])
            ends = np.cumsum([len(chunks) for chunks in chunks_of])[:-1]
            parts = np.split(matrix, ends)
        else:
            stored = vectors.all_vectors(index)
            parts = [stored[[row for row, _ in rows_by_doc[d.doc_id]]] for d in keep]
        return list(zip(keep, chunks_of, parts, strict=True))
