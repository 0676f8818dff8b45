"""The ingestion pipeline: discover, hash, load, chunk, embed, publish.

Unchanged files (same content hash as in the current version) are skipped
without loading or embedding.  Files are parsed by a worker process under a time
and memory budget (``ingest.parsing``).  A file that fails is reported with its
reason while the others go on; if it was ingested before, its previous version
stays in the index; and it is remembered (``ingest.failures``), so that it is not
parsed again until it changes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
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
from ingest.chunking import chunked
from ingest.documents import LoadError, document_id
from ingest.failures import FailedFile, read_failures, settled, write_failures
from ingest.loaders import supported
from ingest.memory import release_memory
from ingest.parsing import (
    BudgetExceeded,
    ParseBudget,
    ParseInterrupted,
    Parser,
    ParserUnavailable,
    ParseWorker,
)

log = logging.getLogger(__name__)

EMBED_BATCH_CHUNKS = 256
# At most this many texts go to the embedder at once: its tokenizer's output for a
# 20 MB document's 20,000 chunks at once took a GB.
EMBED_SLICE = 1024


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
                if p.is_file() and supported(p)
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )  # fmt: skip
        for path in candidates:
            if path in seen:
                continue
            seen.add(path)
            source = path.name if path == root else f"{root.name}/{path.relative_to(root)}"
            yield SourceFile(path, root, source)


def embed_once(embedder: Embedder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Vectors of ``texts``, each distinct text embedded once (repeated boilerplate,
    a document ingested under two names) and its vector reused for the repeats."""
    unique: dict[str, int] = {}
    rows = [unique.setdefault(text, len(unique)) for text in texts]
    if len(unique) == len(texts):
        return _embed_sliced(embedder, texts)
    log.debug("embedding %d distinct texts of %d", len(unique), len(texts))
    return _embed_sliced(embedder, list(unique))[rows]


def _embed_sliced(embedder: Embedder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    if len(texts) <= EMBED_SLICE:
        return embedder.embed(texts)
    slices = [texts[i : i + EMBED_SLICE] for i in range(0, len(texts), EMBED_SLICE)]
    return np.concatenate([embedder.embed(part) for part in slices])


@dataclass
class _RunState:
    """What one run learns as it goes, beside its report."""

    report: IngestReport
    progress: Progress | None
    remembered: dict[str, FailedFile]  # the failures recorded before this run, by path
    failed: dict[str, FailedFile] = field(default_factory=dict)  # failing now, by path
    read: set[str] = field(default_factory=set)  # paths whose bytes were read


class Pipeline:
    """Ingests files into one index directory with the given embedder and chunker.

    Files are parsed under ``budget`` by a worker process (``parser`` replaces it).
    """

    def __init__(
        self,
        embedder: Embedder,
        chunker: ChunkerParams,
        *,
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        budget: ParseBudget | None = None,
        parser: Parser | None = None,
    ) -> None:
        self._embedder = embedder
        self._chunker = chunker
        self._hnsw_threshold = hnsw_threshold
        self._parser = parser or ParseWorker(budget)

    def close(self) -> None:
        """Stop for good, from any thread: a parse in progress is killed at once, and its
        run raises ``ParseInterrupted`` without publishing anything."""
        self._parser.close()

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
        roots = {str(f.root) for f in files} | {
            str(p.expanduser().resolve()) for p in paths if p.expanduser().is_dir()
        }
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
            state = _RunState(report, progress, read_failures(index_root))
            previous = writer.previous_documents()
            forgotten = [r for r in previous.values() if r.path in forget]
            previous = {p: r for p, r in previous.items() if p not in forget}
            try:
                keep, changed = self._plan(files, previous, state)
                parsed = bool(changed)
                documents = list(self._embedded(changed, state))
            finally:
                self._parser.stop()  # the worker and its memory go until the next run
            settled_paths = {d.record.path for d in documents} | {r.path for r in keep}
            for record in previous.values():
                if record.path in settled_paths:
                    continue
                if record.root in roots and not Path(record.path).exists():
                    report.removed.append(record.source)
                else:
                    keep.append(record)  # another root's, or a file that failed this time
            report.removed += [r.source for r in forgotten if r.source not in report.added]
            failures = settled(state.remembered, state.failed, state.read, roots, forget, skip)
            if failures != state.remembered:
                write_failures(index_root, failures)
            # A backend switch republishes even unchanged documents, re-embedded.
            if report.changed or writer.reembeds:
                report.version = writer.commit(keep, documents).version
        if parsed:
            del documents, keep
            release_memory()
        report.seconds = time.perf_counter() - started
        return report

    def _plan(
        self, files: list[SourceFile], previous: dict[str, DocumentRecord], state: _RunState
    ) -> tuple[list[DocumentRecord], deque[tuple[SourceFile, bytes, str]]]:
        """The documents kept as they are, and the files to parse; files that failed before
        and have not changed since are failures again, without being parsed."""
        report = state.report
        keep: list[DocumentRecord] = []
        changed: deque[tuple[SourceFile, bytes, str]] = deque()
        for file in files:
            try:
                data = file.path.read_bytes()
            except OSError as exc:
                report.failed.append(Failure(file.source, f"unreadable: {exc.strerror or exc}"))
                continue
            report.bytes_read += len(data)
            state.read.add(str(file.path))
            digest = hashlib.sha256(data).hexdigest()
            old = previous.get(str(file.path))
            failed = state.remembered.get(str(file.path))
            if old is not None and old.sha256 == digest:
                report.unchanged.append(file.source)
                keep.append(old)
            elif failed is not None and failed.still_fails(digest, self._parser.budget):
                reason = f"{failed.reason} (unchanged since it failed: not parsed again)"
                report.failed.append(Failure(file.source, reason))
                state.failed[failed.path] = failed
            else:
                (report.updated if old else report.added).append(file.source)
                changed.append((file, data, digest))
                continue
            if state.progress:
                state.progress.advance(file.source)
        return keep, changed

    def _embedded(
        self, changed: deque[tuple[SourceFile, bytes, str]], state: _RunState
    ) -> Iterator[DocumentChunks]:
        """Load and chunk each changed file, then embed in batches across files; a file's
        bytes are let go once it is parsed."""
        report, progress = state.report, state.progress
        pending: list[tuple[DocumentRecord, list[Chunk]]] = []
        while changed:
            file, data, digest = changed.popleft()
            try:
                record, chunks = self._chunked(file, data, digest)
            except (ParseInterrupted, ParserUnavailable):
                raise  # the run's trouble, not this file's
            except Exception as exc:  # any parser failure is this file's, not the run's
                reason = str(exc) if isinstance(exc, LoadError) else f"{type(exc).__name__}: {exc}"
                log.debug("failed to load %s", file.path, exc_info=True)
                report.failed.append(Failure(file.source, reason))
                budget = self._parser.budget if isinstance(exc, BudgetExceeded) else None
                state.failed[str(file.path)] = FailedFile(
                    str(file.path), file.source, str(file.root), digest, reason, now(), budget
                )
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
        document = self._parser.load(file.path, data)
        doc_id = document_id(str(file.path))
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
            for i, p in enumerate(chunked(document, self._chunker, self._embedder.count_tokens))
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
