"""Managing a collection's documents over HTTP: list, upload, delete, re-sync.

Uploaded files are kept in the collection's ``uploads/`` folder (inside its
index directory) and ingested by a background job (``service.jobs``); a
deletion removes the stored file, or drops a document ingested from a folder
(remembered in ``excluded.json``, so that a later re-sync of the folder does not
bring it back), and re-syncs.  Every change publishes a new index version, which
the next request serves.  Files that failed to ingest (``ingest.failures``) are
listed beside the documents, under the id they would have, and deleted the same way.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from anyio import to_thread

from indexes import DataRoot, DocumentRecord, IndexError_
from indexes.files import write_atomically
from ingest import loaders
from ingest.failures import FailedFile, read_failures
from service import uploads
from service.errors import NotFound, ValidationFailed
from service.jobs import Job, Jobs, Work
from service.library import Library
from service.schemas import DocumentPublic, DocumentsResponse, FailedFilePublic

log = logging.getLogger(__name__)

EXCLUDED_NAME = "excluded.json"


def _same(work: Work) -> Work:
    return work


def _inside(path: str, folder: Path) -> bool:
    return Path(path).parent == folder


class Documents:
    def __init__(self, root: DataRoot, library: Library, jobs: Jobs) -> None:
        self._root = root
        self._library = library
        self._jobs = jobs

    def _checked_name(self, collection: str) -> str:
        try:
            return self._root.collection(collection).name
        except IndexError_ as exc:
            raise ValidationFailed(str(exc)) from None

    def _records(self, collection: str) -> tuple[int, list[DocumentRecord], dict[str, int]]:
        reader = self._library.reader(collection)
        return reader.version, reader.documents(), reader.page_counts()

    def _failed(self, collection: str) -> list[FailedFile]:
        try:
            folder = self._root.collection(collection).path
        except IndexError_:
            return []  # not a collection name: the reader says so
        return sorted(read_failures(folder).values(), key=lambda f: f.source)

    def _contents(
        self, collection: str
    ) -> tuple[int, list[DocumentRecord], dict[str, int], list[FailedFile]]:
        """The served version, its documents and page counts, and the failed files; a
        collection whose every file failed so far has version 0 and no documents."""
        failed = self._failed(collection)
        try:
            version, records, pages = self._records(collection)
        except NotFound:
            if not failed:
                raise
            return 0, [], {}, failed
        return version, records, pages, failed

    async def listing(self, collection: str) -> DocumentsResponse:
        version, records, pages, failed = await to_thread.run_sync(self._contents, collection)
        folder = self._jobs.uploads_dir(collection)
        return DocumentsResponse(
            collection=collection,
            index_version=version,
            documents=[
                DocumentPublic(
                    id=r.doc_id,
                    source=r.source,
                    title=r.title,
                    pages=pages.get(r.doc_id),
                    chunks=r.n_chunks,
                    sha256=r.sha256,
                    ingested_at=r.ingested_at,
                    uploaded=_inside(r.path, folder),
                )
                for r in records
            ],
            failed=[
                FailedFilePublic(
                    id=f.doc_id,
                    source=f.source,
                    sha256=f.sha256,
                    reason=f.reason,
                    failed_at=f.failed_at,
                    uploaded=_inside(f.path, folder),
                )
                for f in failed
            ],
        )

    async def upload(
        self, collection: str, files: list[uploads.Upload], max_bytes: int, max_files: int
    ) -> Job:
        """Check and store the files, then queue their ingestion; nothing is stored on refusal."""
        collection = self._checked_name(collection)
        accepted = uploads.checked(files, max_bytes, max_files)
        folder = self._jobs.uploads_dir(collection)
        stored = await to_thread.run_sync(uploads.store, folder, accepted)
        names = [f"{folder.name}/{path.name}" for path in stored]
        return self._jobs.submit("upload", collection, lambda: self._sync(collection), names)

    async def delete(self, collection: str, document_id: str) -> Job:
        """Remove a document, or a file that failed to ingest, by its id."""
        _, records, _, failed = await to_thread.run_sync(self._contents, collection)
        found = [(r.path, r.source) for r in records if r.doc_id == document_id]
        found += [(f.path, f.source) for f in failed if f.doc_id == document_id]
        if not found:
            raise NotFound(f"no document {document_id!r} in collection {collection!r}")
        path, source = found[0]
        if _inside(path, self._jobs.uploads_dir(collection)):
            await to_thread.run_sync(lambda: Path(path).unlink(missing_ok=True))
        else:  # a file of an ingested folder: it stays out of the next re-sync
            await to_thread.run_sync(self._exclude, collection, path)
        plan = lambda: self._sync(collection, forget={path})  # noqa: E731
        return self._jobs.submit("delete", collection, plan, [source])

    async def reindex(self, collection: str) -> Job:
        """Re-sync with the sources: uploads and the folders the documents came from."""
        await to_thread.run_sync(self._contents, collection)  # 404 for an unknown one
        return self._jobs.submit("reindex", collection, lambda: self._resync(collection))

    def _sync(self, collection: str, forget: set[str] | None = None) -> Work:
        """The collection's upload folder, dropping the documents in ``forget``."""
        folder = self._jobs.uploads_dir(collection)
        folder.mkdir(parents=True, exist_ok=True)
        return Work([folder], forget=forget or set())

    def _resync(self, collection: str) -> Work:
        uploaded = self._sync(collection)
        _, records, _, failed = self._contents(collection)
        found = [Path(r.root) for r in records] + [Path(f.root) for f in failed]
        roots = {root for root in found if root.exists()}
        gone = {r.path for r in records if not Path(r.path).exists()}
        excluded = self._excluded(collection)
        paths = [*uploaded.paths, *sorted(roots - set(uploaded.paths))]
        # Skipped, not forgotten: one that `syllabus ingest` brought back since stays.
        return Work(paths, forget=gone, skip=excluded)

    def reconcile(self) -> list[Job]:
        """Queue the work a restart interrupted: uploads stored but not indexed (or indexed
        but their file gone), and documents deleted whose deletion was not published."""
        queued = []
        for name in self._library.names():
            try:
                work = self._unfinished(name)
            except IndexError_ as exc:
                log.warning("collection %r not reconciled: %s", name, exc)
                continue
            if work is not None:
                job = self._jobs.submit("reindex", name, functools.partial(_same, work))
                log.info("collection %r: unfinished work found at start; job %s", name, job.id)
                queued.append(job)
        return queued

    def _unfinished(self, collection: str) -> Work | None:
        _, records, _ = self._records(collection)
        folder = self._jobs.uploads_dir(collection)
        # A stored upload that failed was done with: it waits for a change, not a restart.
        settled = [r.path for r in records] + [f.path for f in self._failed(collection)]
        indexed = {path for path in settled if _inside(path, folder)}
        stored = set()
        if folder.is_dir():
            stored = {
                str(p)
                for p in folder.iterdir()
                if p.is_file() and not p.name.startswith(".") and loaders.supported(p)
            }
        deleted = {r.path for r in records} & self._excluded(collection)
        if stored == indexed and not deleted:
            return None
        return self._sync(collection, forget=deleted)

    def _excluded_file(self, collection: str) -> Path:
        return self._root.collection(collection).path / EXCLUDED_NAME

    def _excluded(self, collection: str) -> set[str]:
        """Files of ingested folders deleted through the API (kept out of re-syncs)."""
        try:
            found = json.loads(self._excluded_file(collection).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        except (OSError, ValueError) as exc:
            log.warning("%s of %r cannot be read (%s): nothing excluded", EXCLUDED_NAME,
                        collection, exc)  # fmt: skip
            return set()
        return {str(p) for p in found} if isinstance(found, list) else set()

    def _exclude(self, collection: str, path: str) -> None:
        paths = sorted(self._excluded(collection) | {path})
        write_atomically(self._excluded_file(collection), json.dumps(paths, indent=1))
