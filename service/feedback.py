"""The answers Syllabus gave and learners' ratings of them, per collection, in SQLite
(``feedback.sqlite`` in the collection's folder, beside its index versions).

Every answer gets an ``answer_id``, so that a rating can only be of an answer Syllabus
gave. What is written to disk depends on the collection's question log
(``question_log``, off by default):

- **off**: an answer waits in memory (at most :data:`PENDING_ANSWERS`, for
  :data:`PENDING_SECONDS`) for a rating; only a rated answer, with its question, is
  written. Questions nobody rated never reach the disk.
- **on**: every answer is written with what course staff read in ``syllabus insights``:
  question, time, mode, style, best-passage score, the threshold in force, the cited
  documents and sections, latency, whether the model's answer was rejected.

Nothing about who asked is kept: no address, no key. Rows older than the collection's
retention are deleted (:meth:`AnswerJournal.prune`, run on a schedule); the newest
``max_answers`` are kept in any case. A write that fails (a full disk, a read-only
folder) is logged and never stops the answer.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.errors import NotFound, ServiceError

log = logging.getLogger(__name__)

FEEDBACK_NAME = "feedback.sqlite"
MAX_ANSWERS = 100_000
PENDING_ANSWERS = 10_000
PENDING_SECONDS = 3600.0
DAY_SECONDS = 86_400.0
_BUSY_MS = 5000  # another process (the CLI's insights) may hold the file a moment
_ATTEMPTS = 3  # a write that stays busy past the timeout is tried again, then given up
_FIRST = {  # the answers table as first released
    "answer_id": "TEXT PRIMARY KEY",
    "asked_at": "REAL NOT NULL",
    "question": "TEXT NOT NULL",
    "answer": "TEXT NOT NULL",
    "mode": "TEXT NOT NULL",
}
# Columns added after the first release; a file written before gains them when opened.
_ADDED = {
    "style": "TEXT",
    "best_score": "REAL",
    "threshold": "REAL",
    "cited": "TEXT",
    "latency_ms": "REAL",
    "rejected": "INTEGER",
}
_COLUMNS = (*_FIRST, *_ADDED)
_ANSWER_COLUMNS = ", ".join(f"{name} {kind}" for name, kind in {**_FIRST, **_ADDED}.items())
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS answers ({_ANSWER_COLUMNS});
CREATE TABLE IF NOT EXISTS ratings (
    answer_id TEXT PRIMARY KEY REFERENCES answers(answer_id) ON DELETE CASCADE,
    helpful INTEGER NOT NULL,
    comment TEXT,
    rated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_asked_at ON answers(asked_at);
"""


@dataclass(frozen=True, slots=True)
class Cited:
    """A passage an answer cites, as the question log keeps it."""

    source: str
    title: str
    heading_path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One answer as it is logged."""

    question: str
    answer: str
    mode: str
    style: str = "explain"
    best_score: float | None = None
    threshold: float | None = None
    cited: tuple[Cited, ...] = ()
    latency_ms: float | None = None
    rejected: bool = False  # the model wrote an answer that was not shown


@dataclass(frozen=True, slots=True)
class LoggedAnswer:
    """A logged answer with its time and, when it was rated, the rating."""

    answer_id: str
    asked_at: float
    record: AnswerRecord
    helpful: bool | None
    comment: str | None


class FeedbackUnavailable(ServiceError):
    """The collection's folder cannot be written: ratings cannot be kept."""

    status = 503
    code = "feedback_unavailable"


def _row(answer_id: str, asked_at: float, record: AnswerRecord) -> tuple[object, ...]:
    cited = json.dumps([[c.source, c.title, list(c.heading_path)] for c in record.cited])
    return (
        answer_id,
        asked_at,
        record.question,
        record.answer,
        record.mode,
        record.style,
        record.best_score,
        record.threshold,
        cited,
        record.latency_ms,
        int(record.rejected),
    )


def _cited(text: str | None) -> tuple[Cited, ...]:
    if not text:
        return ()
    return tuple(Cited(s, t, tuple(h)) for s, t, h in json.loads(text))


class AnswerJournal:
    """The answers given and their ratings, one SQLite file per collection folder."""

    def __init__(self, max_answers: int = MAX_ANSWERS) -> None:
        self._max_answers = max_answers
        self._connections: dict[Path, sqlite3.Connection] = {}
        # (folder, answer_id) -> (asked_at, record): answers waiting for a rating.
        self._pending: OrderedDict[tuple[Path, str], tuple[float, AnswerRecord]] = OrderedDict()
        self._lock = threading.Lock()
        self._warned_at = 0.0

    def _open(self, folder: Path) -> sqlite3.Connection | None:
        """The folder's connection; ``None`` (logged) when the file cannot be opened now,
        and tried again on the next call."""
        if folder not in self._connections:
            try:
                self._connections[folder] = self._connect(folder / FEEDBACK_NAME)
            except (OSError, sqlite3.Error) as exc:
                self._failed("open the answers", folder, exc)
                return None
        return self._connections[folder]

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        connection = sqlite3.connect(path, check_same_thread=False, timeout=_BUSY_MS / 1000)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL never corrupts; a power cut may lose the last answers logged,
            # and each answer no longer waits for an fsync (nor holds the lock through one).
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            # One writer sets the schema up at a time (another process may be opening it).
            connection.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            present = {row[1] for row in connection.execute("PRAGMA table_info(answers)")}
            for column, kind in _ADDED.items():
                if column not in present:
                    connection.execute(f"ALTER TABLE answers ADD COLUMN {column} {kind}")
            connection.execute("COMMIT")
        except BaseException:
            connection.close()
            raise
        return connection

    def _failed(self, action: str, folder: Path, exc: Exception) -> None:
        # A full disk fails every answer: say so once a minute, not once per answer.
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            log.warning("could not %s in %s: %s", action, folder.name, exc)

    def record(self, folder: Path, record: AnswerRecord, *, log_question: bool = False) -> str:
        """A new answer's id; the answer is written at once when ``log_question``, else kept
        in memory until it is rated or forgotten."""
        answer_id = secrets.token_urlsafe(16)
        now = time.time()
        with self._lock:
            if not log_question:
                self._keep_pending(folder, answer_id, now, record)
                return answer_id
            for attempt in range(_ATTEMPTS):
                connection = self._open(folder)
                try:
                    if connection is not None:
                        self._insert(connection, answer_id, now, record)
                        break
                except sqlite3.OperationalError as exc:  # busy past the timeout: try again
                    self._failed("log an answer", folder, exc)
                except sqlite3.Error as exc:
                    self._failed("log an answer", folder, exc)
                    break
                time.sleep(0.05 * (attempt + 1))
        return answer_id

    def _keep_pending(self, folder: Path, answer_id: str, now: float, record: AnswerRecord) -> None:
        self._pending[(folder, answer_id)] = (now, record)
        while self._pending:
            (oldest_key, (asked_at, _)) = next(iter(self._pending.items()))
            if len(self._pending) <= PENDING_ANSWERS and now - asked_at <= PENDING_SECONDS:
                break
            del self._pending[oldest_key]

    def _insert(
        self, connection: sqlite3.Connection, answer_id: str, asked_at: float, record: AnswerRecord
    ) -> None:
        marks = ", ".join("?" * len(_COLUMNS))
        with connection:
            connection.execute(
                f"INSERT OR IGNORE INTO answers ({', '.join(_COLUMNS)}) VALUES ({marks})",
                _row(answer_id, asked_at, record),
            )
            # Rows are numbered as they are inserted: a range on the rowid, not a sort.
            connection.execute(
                "DELETE FROM answers WHERE rowid <= (SELECT max(rowid) FROM answers) - ?",
                (self._max_answers,),
            )

    def rate(self, folder: Path, answer_id: str, helpful: bool, comment: str | None) -> None:
        """Keep a rating (a second one of the same answer replaces the first)."""
        with self._lock:
            connection = self._open(folder)
            if connection is None:
                raise FeedbackUnavailable("ratings cannot be stored: the data folder is read-only")
            try:
                self._rate(connection, folder, answer_id, helpful, comment)
            except sqlite3.Error as exc:
                log.warning("a rating in %s could not be stored: %s", folder.name, exc)
                raise FeedbackUnavailable("the rating could not be stored; retry later") from exc

    def _rate(
        self,
        connection: sqlite3.Connection,
        folder: Path,
        answer_id: str,
        helpful: bool,
        comment: str | None,
    ) -> None:
        known = connection.execute(
            "SELECT 1 FROM answers WHERE answer_id = ?", (answer_id,)
        ).fetchone()
        if known is None:
            pending = self._pending.pop((folder, answer_id), None)
            if pending is None:
                raise NotFound(f"no answer {answer_id!r} was given in this collection")
            self._insert(connection, answer_id, *pending)
        with connection:
            connection.execute(
                "INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?)",
                (answer_id, int(helpful), comment, time.time()),
            )

    def prune(self, folder: Path, keep_days: float) -> int:
        """Delete the answers (and their ratings) older than ``keep_days``; how many."""
        cutoff = time.time() - keep_days * DAY_SECONDS
        with self._lock:
            if not (folder / FEEDBACK_NAME).exists():
                return 0
            connection = self._open(folder)
            if connection is None:
                return 0
            try:
                with connection:
                    deleted = connection.execute(
                        "DELETE FROM answers WHERE asked_at < ?", (cutoff,)
                    ).rowcount
            except sqlite3.Error as exc:
                self._failed("delete old answers", folder, exc)
                return 0
        if deleted:
            log.info("deleted %d answer(s) older than %g days in %s", deleted, keep_days, folder)
        return deleted

    def answers(self, folder: Path, since: float = 0.0) -> list[LoggedAnswer]:
        """Every logged answer asked at or after ``since`` (a Unix time), oldest first."""
        with self._lock:
            if not (folder / FEEDBACK_NAME).exists():
                return []
            connection = self._open(folder)
            if connection is None:
                return []
            found = connection.execute(
                f"SELECT {', '.join('a.' + c for c in _COLUMNS)}, r.helpful, r.comment "
                "FROM answers a LEFT JOIN ratings r USING (answer_id) "
                "WHERE a.asked_at >= ? ORDER BY a.asked_at",
                (since,),
            ).fetchall()
        return [self._logged(row) for row in found]

    @staticmethod
    def _logged(row: tuple[Any, ...]) -> LoggedAnswer:
        (answer_id, asked_at, question, answer, mode, style, best, threshold, cited,
         latency, rejected, helpful, comment) = row  # fmt: skip
        record = AnswerRecord(
            question=str(question),
            answer=str(answer),
            mode=str(mode),
            style=str(style or "explain"),
            best_score=None if best is None else float(best),
            threshold=None if threshold is None else float(threshold),
            cited=_cited(cited),
            latency_ms=None if latency is None else float(latency),
            rejected=bool(rejected),
        )
        return LoggedAnswer(
            answer_id=str(answer_id),
            asked_at=float(asked_at),
            record=record,
            helpful=None if helpful is None else bool(helpful),
            comment=None if comment is None else str(comment),
        )

    def ratings(self, folder: Path) -> list[tuple[str, str, bool, str | None]]:
        """(question, answer, helpful, comment) of every rated answer, newest first."""
        with self._lock:
            connection = self._open(folder)
            if connection is None:
                return []
            found = connection.execute(
                "SELECT a.question, a.answer, r.helpful, r.comment FROM ratings r "
                "JOIN answers a USING (answer_id) ORDER BY r.rated_at DESC"
            ).fetchall()
        return [(q, a, bool(h), c) for q, a, h, c in found]

    def close(self) -> None:
        with self._lock:
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()
