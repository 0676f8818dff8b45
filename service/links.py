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
from collections.abc import Mapping
from pathlib import PurePosixPath

from indexes import Chunk

_WEB = re.compile(r"^https?://", re.IGNORECASE)
_NOT_IN_SLUG = re.compile(r"[^\w\- ]", re.UNICODE)


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return _NOT_IN_SLUG.sub("", heading.strip().lower()).replace(" ", "-")


class SourceLinks:
    def __init__(self, mapping: Mapping[str, Mapping[str, str]]) -> None:
        # Longest prefix first, so "corpus/papers/" wins over "corpus/".
        self._mapping = {
            collection: sorted(prefixes.items(), key=lambda item: -len(item[0]))
            for collection, prefixes in mapping.items()
        }

    def url(self, collection: str, chunk: Chunk) -> str | None:
        if _WEB.match(chunk.source):
            return chunk.source
        for prefix, site in self._mapping.get(collection, []):
            if chunk.source.startswith(prefix):
                rest = chunk.source[len(prefix) :]
                stem = str(PurePosixPath(rest).with_suffix("")) if rest else rest
                base = site.format(path=rest, stem=stem) if "{" in site else site + rest
                return base + self._anchor(chunk)
        return None

    @staticmethod
    def _anchor(chunk: Chunk) -> str:
        if chunk.page is not None:
            return f"#page={chunk.page}"
        if len(chunk.heading_path) > 1:  # the first is the document's title
            return "#" + heading_anchor(chunk.heading_path[-1])
        return ""
