"""The ingestion pipeline: discover, hash, load, chunk, embed, publish.

Unchanged files (same content hash as in the current version) are skipped
without loading or embedding.  A file that fails is reported with its
reason while the others go on; if it was ingested before, its previous
version stays in the index.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from indexes import ChunkerParams, DocumentRecord, Embedder, EmbedderInfo, IndexWriter
from indexes.manifest import now
from indexes.records import Chunk
from indexes.writer import DEFAULT_HNSW_THRESHOLD, DocumentChunks
from ingest import loaders
from ingest.chunking import Piece, chunk_document
from ingest.documents import LoadError

log = logging.getLogger(__name__)

EMBED_BATCH_CHUNKS = 256


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    root: Path
    source: str


@dataclass(frozen=True, slots=True)
class Failure:
    source: str
    reason: str


@dataclass
class IngestReport:
    """What one run did, per document source."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    chunks_embedded: int = 0
    bytes_read: int = 0
    version: int | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


class Progress(Protocol):
    """Told how many files a run looks at, then of each file as it is done."""

    def start(self, total: int) -> None: ...

    def advance(self, source: str) -> None: ...


def discover(paths: Sequence[Path], report: IngestReport) -> Iterator[SourceFile]:
    """Supported files under ``paths``; missing or unsupported named files are failures.

    In a folder, hidden entries and files of other types are passed over.
    """
    seen: set[Path] = set()
    for given in paths:
        root = given.expanduser().resolve()
        if not root.exists():
            report.failed.append(Failure(str(given), "no such file or directory"))
            continue
        if root.is_file():
            candidates = [root]
        else:
            candidates = sorted(
                p for p in root.rglob("*")
                if p.is_file() and loaders.supported(p)
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )  # fmt: skip
        for path in candidates:
            if path in seen:
                continue
            seen.add(path)
            source = path.name if path == root else f"{root.name}/{path.relative_to(root)}"
            yield SourceFile(path, root, source)


def _doc_id(path: Path) -> str:
    return hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:16]


def embed_once(embedder: Embedder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Vectors of ``texts``, each distinct text embedded once (repeated boilerplate,
    a document ingested under two names) and its vector reused for the repeats."""
    unique: dict[str, int] = {}
    rows = [unique.setdefault(text, len(unique)) for text in texts]
    if len(unique) == len(texts):
        return embedder.embed(texts)
    log.debug("embedding %d distinct texts of %d", len(unique), len(texts))
    return embedder.embed(list(unique))[rows]


class Pipeline:
    """Ingests files into one index directory with the given embedder and chunker."""

    def __init__(
        self,
        embedder: Embedder,
        chunker: ChunkerParams,
        *,
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
    ) -> None:
        self._embedder = embedder
        self._chunker = chunker
        self._hnsw_threshold = hnsw_threshold

    def embedder_info(self) -> EmbedderInfo:
        return EmbedderInfo(
            model=self._embedder.name,
            backend=self._embedder.backend,
            dimension=self._embedder.dimension,
            max_tokens=self._embedder.max_tokens,
        )

    def run(
        self,
        paths: Sequence[Path],
        index_root: Path,
        *,
        wait_seconds: float = 0.0,
        progress: Progress | None = None,
        forget: Collection[str] = (),
        skip: Collection[str] = (),
    ) -> IngestReport:
        """Bring the index at ``index_root`` in line with the files under ``paths``.

        Documents whose path is in ``forget`` are removed whatever their root (a file
        found again under ``paths`` is ingested anew); files whose path is in ``skip``
        are passed over, as if they were not there (documents deleted through the API).
        """
        started = time.perf_counter()
        report = IngestReport()
        files = [f for f in discover(paths, report) if str(f.path) not in skip]
        if progress:
            progress.start(len(files))
        with IndexWriter.open(
            index_root,
            self.embedder_info(),
            self._chunker,
            hnsw_threshold=self._hnsw_threshold,
            wait_seconds=wait_seconds,
            embed=lambda texts: embed_once(self._embedder, texts),
        ) as writer:
            previous = writer.previous_documents()
            forgotten = [r for r in previous.values() if r.path in forget]
            previous = {p: r for p, r in previous.items() if p not in forget}
            keep, changed = self._plan(files, previous, report, progress)
            documents = list(self._embedded(changed, report, progress))
            settled = {d.record.path for d in documents} | {r.path for r in keep}
            roots = {str(f.root) for f in files} | {
                str(p.expanduser().resolve()) for p in paths if p.expanduser().is_dir()
            }
            for record in previous.values():
                if record.path in settled:
                    continue
                if record.root in roots and not Path(record.path).exists():
                    report.removed.append(record.source)
                else:
                    keep.append(record)  # another root's, or a file that failed this time
            report.removed += [r.source for r in forgotten if r.source not in report.added]
            # A backend switch republishes even unchanged documents, re-embedded.
            if report.changed or writer.reembeds:
                report.version = writer.commit(keep, documents).version
        report.seconds = time.perf_counter() - started
        return report

    def _plan(
        self,
        files: list[SourceFile],
        previous: dict[str, DocumentRecord],
        report: IngestReport,
        progress: Progress | None,
    ) -> tuple[list[DocumentRecord], list[tuple[SourceFile, bytes, str]]]:
        keep: list[DocumentRecord] = []
        changed: list[tuple[SourceFile, bytes, str]] = []
        for file in files:
            try:
                data = file.path.read_bytes()
            except OSError as exc:
                report.failed.append(Failure(file.source, f"unreadable: {exc.strerror or exc}"))
                continue
            report.bytes_read += len(data)
            digest = hashlib.sha256(data).hexdigest()
            old = previous.get(str(file.path))
            if old is not None and old.sha256 == digest:
                report.unchanged.append(file.source)
                keep.append(old)
                if progress:
                    progress.advance(file.source)
                continue
            (report.updated if old else report.added).append(file.source)
            changed.append((file, data, digest))
        return keep, changed

    def _embedded(
        self,
        changed: list[tuple[SourceFile, bytes, str]],
        report: IngestReport,
        progress: Progress | None = None,
    ) -> Iterator[DocumentChunks]:
        """Load and chunk each changed file, then embed in batches across files."""
        pending: list[tuple[DocumentRecord, list[Chunk]]] = []
        for file, data, digest in changed:
            try:
                record, chunks = self._chunked(file, data, digest)
            except Exception as exc:  # any parser failure is this file's, not the run's
                reason = str(exc) if isinstance(exc, LoadError) else f"{type(exc).__name__}: {exc}"
                log.debug("failed to load %s", file.path, exc_info=True)
                report.failed.append(Failure(file.source, reason))
                for bucket in (report.added, report.updated):
                    if file.source in bucket:
                        bucket.remove(file.source)
                if progress:
                    progress.advance(file.source)
                continue
            if progress:
                progress.advance(file.source)
            pending.append((record, chunks))
            if sum(len(c) for _, c in pending) >= EMBED_BATCH_CHUNKS:
                yield from self._embed(pending, report)
                pending = []
        yield from self._embed(pending, report)

    def _chunked(
        self, file: SourceFile, data: bytes, digest: str
    ) -> tuple[DocumentRecord, list[Chunk]]:
        document = loaders.load(file.path, data)
        pieces: list[Piece] = chunk_document(document, self._chunker, self._embedder.count_tokens)
        doc_id = _doc_id(file.path)
        chunks = [
            Chunk(
                id=f"{doc_id[:10]}{digest[:6]}-{i}",
                doc_id=doc_id,
                text=p.text,
                embed_text=p.embed_text,
                title=document.title,
                source=file.source,
                heading_path=p.heading_path,
                page=p.page,
                start=p.start,
                end=p.end,
                n_tokens=p.n_tokens,
            )
            for i, p in enumerate(pieces)
        ]
        record = DocumentRecord(
            doc_id=doc_id,
            path=str(file.path),
            source=file.source,
            title=document.title,
            sha256=digest,
            root=str(file.root),
            n_chunks=len(chunks),
            ingested_at=now(),
        )
        return record, chunks

    def _embed(
        self, pending: list[tuple[DocumentRecord, list[Chunk]]], report: IngestReport
    ) -> Iterator[DocumentChunks]:
        texts = [c.embed_text for _, chunks in pending for c in chunks]
        if not texts:
            return
        matrix = embed_once(self._embedder, texts)
        report.chunks_embedded += len(texts)
        offset = 0
        for record, chunks in pending:
            yield DocumentChunks(record, chunks, np.asarray(matrix[offset : offset + len(chunks)]))
            offset += len(chunks)
