"""Uploaded files: names made safe, content checked against the type, stored atomically.

A name keeps only its last path component, loses control and formatting
characters (bidirectional overrides, zero-width spaces) and anything but
letters, digits, ``.``, ``-``, ``_``, spaces and brackets, and may not start
with a dot; so a stored file can only land directly in its collection's upload
folder.  The type comes from the name's suffix, one of ingestion's file types
(``ingest.loaders.FILE_TYPES``), and the content must agree: a binary type starts
with its signature (a PDF with ``%PDF-``), a text file (Markdown, text, HTML) is
UTF-8 without NUL bytes.  A request's files are written under hidden temporary names
and renamed into place only once every one of them has passed.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import FILE_TYPES, supported_list
from service.errors import (
    InsufficientStorage,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)

MAX_NAME_BYTES = 200
_UNSAFE = re.compile(r"[^\w.\-() ]")
_SPACES = re.compile(r"\s+")
_TEMP_PREFIX = ".incoming-"
# What a file that is not what its name says often is, for a clearer refusal.
_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip file"),
    (b"BZh", "a bzip2 file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF-", "a PDF"),
)


@dataclass(frozen=True, slots=True)
class Upload:
    """One received file: the name the client gave, and its bytes."""

    filename: str
    data: bytes


def safe_name(filename: str) -> str:
    """A plain file name for ``filename``, or ``ValidationFailed`` saying why there is none."""
    name = unicodedata.normalize("NFKC", filename)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = _SPACES.sub(" ", _UNSAFE.sub("_", name)).strip(" ._-")
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem.strip(" ._-"):
        raise ValidationFailed(f"{filename!r}: a file name with a type suffix is needed")
    suffix = f".{suffix.lower()}"
    if suffix not in FILE_TYPES:
        raise UnsupportedMediaType(
            f"{filename!r}: unsupported file type {suffix!r}; use {supported_list()}"
        )
    stem = stem.strip(" ._-")
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix


def _looks_like(data: bytes) -> str | None:
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def check_content(name: str, data: bytes, max_bytes: int) -> None:
    """Refuse a file that is too large, empty, or not of the type its name says."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{name}: larger than the limit of {max_bytes} bytes per file")
    if not data.strip():
        raise ValidationFailed(f"{name}: the file is empty")
    suffix = Path(name).suffix.lower()
    signature = FILE_TYPES[suffix].signature
    if signature is not None:
        if signature not in data[:1024]:
            what = _looks_like(data)
            kind = suffix.lstrip(".").upper()
            raise UnsupportedMediaType(
                f"{name}: not a {kind}"
                + (f" ({what})" if what else f" (no {signature.decode()} header)")
            )
        return
    what = _looks_like(data)
    if b"\x00" in data:
        raise UnsupportedMediaType(
            f"{name}: binary content ({what or 'NUL bytes'}), not a {suffix} text file"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsupportedMediaType(
            f"{name}: not UTF-8 text (invalid byte at {exc.start})"
            + (f"; it looks like {what}" if what else "")
        ) from None


def checked(uploads: Iterable[Upload], max_bytes: int, max_files: int) -> list[Upload]:
    """The uploads under their safe names, each checked; the first problem refuses all."""
    found: dict[str, Upload] = {}
    for upload in uploads:
        if len(found) >= max_files:
            raise PayloadTooLarge(f"more than {max_files} files in one request")
        name = safe_name(upload.filename)
        if name in found:
            raise ValidationFailed(f"two files would be stored as {name!r}")
        check_content(name, upload.data, max_bytes)
        found[name] = Upload(name, upload.data)
    if not found:
        raise ValidationFailed("no files in the request")
    return list(found.values())


def store(folder: Path, uploads: list[Upload]) -> list[Path]:
    """Write checked uploads into ``folder``: all under temporary names, then renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder.resolve()
    written: list[tuple[Path, Path]] = []
    try:
        for upload in uploads:
            target = (base / upload.filename).resolve()
            if target.parent != base:  # safe_name makes this impossible; keep it so
                raise ValidationFailed(f"{upload.filename!r} would leave the upload folder")
            handle, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=base)
            written.append((Path(name), target))
            with os.fdopen(handle, "wb") as sink:
                sink.write(upload.data)
                sink.flush()
                os.fsync(sink.fileno())
    except BaseException as exc:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise InsufficientStorage(
                "no space left on the server's disk for the upload; nothing was stored"
            ) from exc
        raise
    for temporary, target in written:
        os.replace(temporary, target)
    return [target for _, target in written]
