"""Where a learner can open a cited passage: the public URL of its document and place.

``SYLLABUS_SOURCE_URLS`` maps, per collection, a source prefix (the folder the notes
were ingested from) to the site that publishes them: a URL prefix the rest of the
source is appended to, or a template with ``{path}`` (the rest) or ``{stem}`` (the rest
without its extension). The anchor is the section's heading as GitHub and most static
site generators spell it (``#why-divide-by-sqrtd_k``), or ``#page=N`` in a PDF. A
source that is itself a web address links to itself; none other gets a link.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from hashlib import sha256
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from indexes import Chunk, DocumentRecord, IndexReader, Scope
from service.errors import ScopeEmpty
from service.schemas import SearchScope

_WEB = re.compile(r"^https?://", re.IGNORECASE)
_NOT_IN_SLUG = re.compile(r"[^\w\- ]", re.UNICODE)


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return _NOT_IN_SLUG.sub("", heading.strip().lower()).replace(" ", "-")


def page_key(url: str) -> str:
    """A page's address as pages are compared: no query or fragment, no trailing slash or
    index.html, the host in lower case."""
    parts = urlsplit(url.strip())
    path = parts.path.removesuffix("index.html").rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def _longest_first(prefixes: Mapping[str, str]) -> list[tuple[str, str]]:
    # Longest prefix first, so "corpus/papers/" wins over "corpus/".
    return sorted(prefixes.items(), key=lambda item: -len(item[0]))


class SourceLinks:
    def __init__(
        self,
        mapping: Mapping[str, Mapping[str, str]],
        course_urls: Callable[[str], Mapping[str, str] | None] | None = None,
    ) -> None:
        """``mapping`` is SYLLABUS_SOURCE_URLS; ``course_urls`` a collection's own (its
        course.json's ``source_urls``), which replaces it for that collection."""
        self._mapping = {c: _longest_first(prefixes) for c, prefixes in mapping.items()}
        self._course_urls = course_urls

    def _prefixes(self, collection: str) -> list[tuple[str, str]]:
        own = self._course_urls(collection) if self._course_urls else None
        return _longest_first(own) if own is not None else self._mapping.get(collection, [])

    def url(self, collection: str, chunk: Chunk) -> str | None:
        page = self.page(collection, chunk.source)
        if page is None or page == chunk.source:
            return page
        return page + self._anchor(chunk)

    def page(self, collection: str, source: str) -> str | None:
        """The public page of a document, without an anchor."""
        if _WEB.match(source):
            return source
        for prefix, site in self._prefixes(collection):
            if source.startswith(prefix):
                rest = source[len(prefix) :]
                stem = str(PurePosixPath(rest).with_suffix("")) if rest else rest
                return site.format(path=rest, stem=stem) if "{" in site else site + rest
        return None

    def resolve(self, collection: str, wanted: SearchScope, reader: IndexReader) -> Scope:
        """The index's scope for a request's: its ``page`` becomes the documents published
        at that address (``ScopeEmpty`` when none is)."""
        scope = wanted.to_scope()
        if wanted.page is None:
            return scope
        key = page_key(wanted.page)
        named = set(wanted.documents)
        at = [
            d.source
            for d in reader.documents()
            if (page := self.page(collection, d.source)) is not None
            and page_key(page) == key
            and (not named or d.source in named or d.doc_id in named)
        ]
        if not at:
            raise ScopeEmpty(f"no document of {collection} is published at {wanted.page}")
        return Scope(tuple(at), scope.source_prefix, scope.heading_prefix)

    @staticmethod
    def _anchor(chunk: Chunk) -> str:
        if chunk.page is not None:
            return f"#page={chunk.page}"
        if len(chunk.heading_path) > 1:  # the first is the document's title
            return "#" + heading_anchor(chunk.heading_path[-1])
        return ""


_PLAIN_SOURCES = (".md", ".markdown", ".txt")


class SourceTexts:
    """Documents' files read back, to place a passage sentence in its source text.

    Markdown and text only (a PDF's or an HTML page's offsets are into the text
    extracted from it), and only while the file is the one that was ingested (same
    SHA-256): otherwise there is no span to give, and none is guessed.
    """

    def __init__(self, keep: int = 32) -> None:
        self._keep = keep
        self._texts: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()

    def _text(self, document: DocumentRecord) -> str | None:
        key = (document.path, document.sha256)
        with self._lock:
            if key in self._texts:
                return self._texts[key]
        try:
            data = Path(document.path).read_bytes()
            text = data.decode("utf-8") if sha256(data).hexdigest() == document.sha256 else None
        except (OSError, UnicodeDecodeError):
            text = None
        with self._lock:
            if len(self._texts) >= self._keep:
                self._texts.pop(next(iter(self._texts)))
            self._texts[key] = text
        return text

    def span(
        self, document: DocumentRecord | None, chunk: Chunk, sentence: str
    ) -> tuple[int, int] | None:
        """Where ``sentence`` (a sentence of ``chunk``) stands in its document's source."""
        if document is None or not document.path.lower().endswith(_PLAIN_SOURCES):
            return None
        text = self._text(document)
        wanted = sentence.strip()
        if text is None or not wanted:
            return None
        at = text.find(wanted, chunk.start, chunk.end)
        return None if at < 0 else (at, at + len(wanted))
