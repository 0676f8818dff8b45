"""Learners' ratings of answers, kept per collection in SQLite (``feedback.sqlite``).

Every answer gets an ``answer_id`` when it is given, recorded with its question, answer
and mode (nothing about who asked: no address, no key), so that a rating can only be of
an answer Syllabus gave, and course staff can read which answers did not help. The file
lives in the collection's folder, beside its index versions; it keeps the newest
``max_answers`` answers, so it stays bounded however long the service runs.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from service.errors import NotFound, ServiceError

log = logging.getLogger(__name__)

FEEDBACK_NAME = "feedback.sqlite"
MAX_ANSWERS = 100_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY,
    asked_at REAL NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    mode TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ratings (
    answer_id TEXT PRIMARY KEY REFERENCES answers(answer_id) ON DELETE CASCADE,
    helpful INTEGER NOT NULL,
    comment TEXT,
    rated_at REAL NOT NULL
);
"""


class FeedbackUnavailable(ServiceError):
    """The collection's folder cannot be written: ratings cannot be kept."""

    status = 503
    code = "feedback_unavailable"


class AnswerJournal:
    """The answers given and their ratings, one SQLite file per collection folder."""

    def __init__(self, max_answers: int = MAX_ANSWERS) -> None:
        self._max_answers = max_answers
        self._connections: dict[Path, sqlite3.Connection | None] = {}
        self._lock = threading.Lock()

    def _open(self, folder: Path) -> sqlite3.Connection | None:
        if folder not in self._connections:
            try:
                connection = sqlite3.connect(folder / FEEDBACK_NAME, check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA foreign_keys=ON")
                connection.executescript(_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                log.warning("answers in %s cannot be rated: %s", folder, exc)
                connection = None
            self._connections[folder] = connection
        return self._connections[folder]

    def record(self, folder: Path, question: str, answer: str, mode: str) -> str:
        """A new answer's id; recorded when the folder can be written."""
        answer_id = secrets.token_urlsafe(16)
        with self._lock:
            connection = self._open(folder)
            if connection is None:
                return answer_id
            with connection:
                connection.execute(
                    "INSERT INTO answers VALUES (?, ?, ?, ?, ?)",
                    (answer_id, time.time(), question, answer, mode),
                )
                # Rows are numbered as they are inserted: a range on the rowid, not a sort.
                connection.execute(
                    "DELETE FROM answers WHERE rowid <= (SELECT max(rowid) FROM answers) - ?",
                    (self._max_answers,),
                )
        return answer_id

    def rate(self, folder: Path, answer_id: str, helpful: bool, comment: str | None) -> None:
        """Keep a rating (a second one of the same answer replaces the first)."""
        with self._lock:
            connection = self._open(folder)
            if connection is None:
                raise FeedbackUnavailable("ratings cannot be stored: the data folder is read-only")
            known = connection.execute(
                "SELECT 1 FROM answers WHERE answer_id = ?", (answer_id,)
            ).fetchone()
            if known is None:
                raise NotFound(f"no answer {answer_id!r} was given in this collection")
            with connection:
                connection.execute(
                    "INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?)",
                    (answer_id, int(helpful), comment, time.time()),
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
                if connection is not None:
                    connection.close()
            self._connections.clear()
