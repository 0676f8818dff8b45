"""Errors of the index layer; the boundaries (HTTP, CLI) translate them."""

import sqlite3


class IndexError_(Exception):
    """Base class for every error raised by :mod:`indexes`."""


class IndexNotFound(IndexError_):
    """The directory holds no published index version."""


class IndexCorrupt(IndexError_):
    """A published version's files cannot be read (damaged outside Syllabus)."""


class EmbedderMismatch(IndexError_):
    """The index was built with another embedding model than the configured one."""


class IndexLocked(IndexError_):
    """Another process is writing to this index."""


class CollectionNameInvalid(IndexError_):
    """A collection name that cannot be used as a directory name."""


class DiskFull(IndexError_):
    """A new version could not be written for lack of space; the previous one serves."""


class EmptyScope(IndexError_):
    """A search scope that holds no chunk of the index."""


class EmbedderUnavailable(IndexError_):
    """The configured embedding model cannot be found on disk."""


# What faiss, bm25s, numpy, SQLite and JSON raise on a damaged or missing file of a
# version, beside our own: reading a version catches these and treats it as damaged.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, RuntimeError, ValueError, EOFError, KeyError, sqlite3.Error, IndexCorrupt,
    IndexNotFound,
)  # fmt: skip
