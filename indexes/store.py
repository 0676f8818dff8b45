"""The SQLite chunk store: passages and documents, keyed by their FAISS row."""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from indexes.errors import IndexCorrupt
from indexes.records import Chunk, DocumentRecord
from indexes.scope import Scope

STORE_NAME = "chunks.sqlite"

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    root TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    text TEXT NOT NULL,
    embed_text TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    heading_path TEXT NOT NULL,
    page INTEGER,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
"""
_CHUNK_COLUMNS = (
    'id, doc_id, text, embed_text, title, source, heading_path, page, start, "end", n_tokens'
)


def _chunk(row: Sequence[object]) -> Chunk:
    (cid, doc_id, text, embed_text, title, source, heading, page, start, end, n_tokens) = row
    return Chunk(
        id=str(cid),
        doc_id=str(doc_id),
        text=str(text),
        embed_text=str(embed_text),
        title=str(title),
        source=str(source),
        heading_path=tuple(json.loads(str(heading))),
        page=None if page is None else int(str(page)),
        start=int(str(start)),
        end=int(str(end)),
        n_tokens=int(str(n_tokens)),
    )


def write_store(path: Path, documents: Iterable[DocumentRecord], chunks: Iterable[Chunk]) -> None:
    """Create a new store; chunk rows are numbered 0.. in iteration order."""
    connection = sqlite3.connect(path)
    try:
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (d.doc_id, d.path, d.source, d.title, d.sha256, d.root, d.n_chunks, d.ingested_at)
                for d in documents
            ),
        )
        connection.executemany(
            f"INSERT INTO chunks (row, {_CHUNK_COLUMNS}) VALUES ({', '.join('?' * 12)})",
            (
                (
                    row,
                    c.id,
                    c.doc_id,
                    c.text,
                    c.embed_text,
                    c.title,
                    c.source,
                    json.dumps(list(c.heading_path)),
                    c.page,
                    c.start,
                    c.end,
                    c.n_tokens,
                )
                for row, c in enumerate(chunks)
            ),
        )
        connection.commit()
    finally:
        connection.close()


class ChunkStore:
    """Read-only access to one version's store, safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False
        )
        self._name = "/".join(path.parts[-4:])  # collection/versions/N/chunks.sqlite
        self._lock = threading.Lock()

    def close(self) -> None:
        self._connection.close()

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._connection.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:  # the file was damaged after it was opened
                raise IndexCorrupt(f"the chunk store {self._name} cannot be read: {exc}") from exc

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        """Chunks at the given FAISS rows, in the order asked."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = self._query(
            f"SELECT row, {_CHUNK_COLUMNS} FROM chunks WHERE row IN ({marks})", list(rows)
        )
        by_row = {int(str(r[0])): _chunk(r[1:]) for r in found}
        return [by_row[row] for row in rows]

    def opens_section(self, rows: Sequence[int], chunks: Sequence[Chunk]) -> list[bool]:
        """Whether each chunk (at its row) is the first of its section, its document's
        chunks with its heading path and page, which are stored in document order: where
        the notes introduce what the heading names."""
        if not rows:
            return []
        doc_ids = sorted({c.doc_id for c in chunks})
        marks = ",".join("?" * len(doc_ids))
        found = self._query(
            f"SELECT doc_id, heading_path, page, MIN(row) FROM chunks WHERE doc_id IN ({marks}) "
            "GROUP BY doc_id, heading_path, page",
            doc_ids,
        )
        first = {(str(d), str(h), p): int(str(r)) for d, h, p, r in found}
        return [
            first.get((c.doc_id, json.dumps(list(c.heading_path)), c.page)) == row
            for row, c in zip(rows, chunks, strict=True)
        ]

    @functools.lru_cache(maxsize=64)  # noqa: B019 (one store per index version)
    def rows_in(self, scope: Scope) -> tuple[int, ...]:
        """The rows of the chunks ``scope`` holds, in row order."""
        found = self._query("SELECT row, doc_id, source, heading_path FROM chunks ORDER BY row")
        return tuple(
            int(str(row))
            for row, doc_id, source, heading in found
            if scope.admits(str(doc_id), str(source), json.loads(str(heading)))
        )

    def rows_of(self, doc_ids: Iterable[str]) -> dict[str, list[tuple[int, Chunk]]]:
        """For each document, its chunks with their rows, in document order."""
        result: dict[str, list[tuple[int, Chunk]]] = {}
        for doc_id in doc_ids:
            found = self._query(
                f"SELECT row, {_CHUNK_COLUMNS} FROM chunks WHERE doc_id = ? ORDER BY row",
                (doc_id,),
            )
            result[doc_id] = [(int(str(r[0])), _chunk(r[1:])) for r in found]
        return result

    def documents(self) -> list[DocumentRecord]:
        found = self._query(
            "SELECT doc_id, path, source, title, sha256, root, n_chunks, ingested_at "
            "FROM documents ORDER BY source"
        )
        return [
            DocumentRecord(
                doc_id=str(r[0]),
                path=str(r[1]),
                source=str(r[2]),
                title=str(r[3]),
                sha256=str(r[4]),
                root=str(r[5]),
                n_chunks=int(str(r[6])),
                ingested_at=str(r[7]),
            )
            for r in found
        ]

    def page_counts(self) -> dict[str, int]:
        """For each paged document (PDF), the number of its last page that has text."""
        found = self._query(
            "SELECT doc_id, MAX(page) FROM chunks WHERE page IS NOT NULL GROUP BY doc_id"
        )
        return {str(doc_id): int(str(page)) for doc_id, page in found}
