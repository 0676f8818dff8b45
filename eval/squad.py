"""SQuAD 2.0 as an evaluation set: typed records, the project's splits, documents, index.

The project splits the 35 articles of the SQuAD 2.0 dev file by their order
in the file: articles 0-17 are our **dev** split (choose settings there) and
articles 18-34 our **test** split (report on it, never tune on it).

Each article becomes one plain-text document, its paragraphs separated by
blank lines, so that the normal ingestion pipeline indexes it exactly as it
would a learner's notes.  The data is read in place from ``../shared``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eval.provenance import code_version
from indexes import ChunkerParams, Embedder, IndexReader
from ingest import Pipeline
from service.paths import PROJECT_ROOT

log = logging.getLogger(__name__)
DATA_RELATIVE = Path("shared/data/squad2/dev-v2.0.reconstructed.json")
DOCUMENT_SUFFIX = ".txt"

Split = Literal["dev", "test"]
SPLITS: dict[Split, range] = {"dev": range(0, 18), "test": range(18, 35)}

_UNSAFE = re.compile(r"[^A-Za-z0-9_.,()'-]+")


class DatasetMissing(FileNotFoundError):
    """The SQuAD file is not where it was looked for."""


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    is_impossible: bool
    article: str
    paragraph: int

    @property
    def answerable(self) -> bool:
        return not self.is_impossible and bool(self.answers)


@dataclass(frozen=True, slots=True)
class Article:
    title: str
    paragraphs: tuple[str, ...]
    questions: tuple[Question, ...]

    @property
    def document_name(self) -> str:
        """The file this article is written to; hit checks match chunk sources on it."""
        return document_name(self.title)


def document_name(title: str) -> str:
    """A file name for ``title``: SQuAD titles keep their underscores, odd characters go."""
    stem = _UNSAFE.sub("_", title).strip("._") or "article"
    return f"{stem}{DOCUMENT_SUFFIX}"


def default_path(project_root: Path = PROJECT_ROOT) -> Path:
    """``../shared/data/squad2/...`` beside the project; raises :class:`DatasetMissing`."""
    path = project_root.parent / DATA_RELATIVE
    if not path.is_file():
        raise DatasetMissing(
            f"the SQuAD 2.0 data is absent: expected {path} (the shared data folder next to "
            "the project); pass the file's path explicitly instead"
        )
    return path


def _question(raw: dict[str, Any], article: str, paragraph: int) -> Question:
    answers = tuple(dict.fromkeys(a["text"] for a in raw.get("answers", []) if a["text"]))
    return Question(
        id=str(raw["id"]),
        question=str(raw["question"]),
        answers=answers,
        is_impossible=bool(raw.get("is_impossible", not answers)),
        article=article,
        paragraph=paragraph,
    )


def _article(raw: dict[str, Any]) -> Article:
    title = str(raw["title"])
    paragraphs = raw["paragraphs"]
    questions = tuple(
        _question(qa, title, number)
        for number, paragraph in enumerate(paragraphs)
        for qa in paragraph["qas"]
    )
    return Article(title, tuple(str(p["context"]) for p in paragraphs), questions)


def load_squad(path: Path) -> list[Article]:
    """The articles of a SQuAD v2 JSON file, in file order."""
    if not path.is_file():
        raise DatasetMissing(f"the SQuAD 2.0 data is absent: no file at {path}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [_article(article) for article in raw["data"]]


def split(articles: list[Article], name: Split) -> list[Article]:
    """The articles of the project's ``dev`` or ``test`` split."""
    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
    wanted = SPLITS[name]
    if len(articles) < wanted.stop:
        raise ValueError(f"the {name} split needs {wanted.stop} articles, got {len(articles)}")
    return [articles[i] for i in wanted]


def answerable(articles: Iterable[Article]) -> list[Question]:
    """Questions with at least one gold answer; retrieval metrics count only these."""
    return [q for article in articles for q in article.questions if q.answerable]


def document_text(article: Article) -> str:
    return "\n\n".join(p.strip() for p in article.paragraphs) + "\n"


def write_documents(articles: Iterable[Article], folder: Path) -> list[Path]:
    """Write one ``.txt`` per article into ``folder``, ready for ``Pipeline.run([folder])``.

    Files whose content is already right are left untouched, so that a cached
    index over the folder stays valid.
    """
    articles = list(articles)
    names = [article.document_name for article in articles]
    if len(set(names)) != len(names):
        raise ValueError("two articles map to the same file name")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for article, name in zip(articles, names, strict=True):
        path, text = folder / name, document_text(article)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@dataclass(frozen=True, slots=True)
class IndexRun:
    """One chunk size's index, open for searching, and how long it took to get."""

    chunk_tokens: int
    reader: IndexReader
    build_seconds: float

    def summary(self) -> dict[str, Any]:
        manifest = self.reader.manifest.model_dump()
        manifest.pop("documents")  # per-file hashes; the data file's hash is recorded instead
        return {**manifest, "build_seconds": self.build_seconds}


def build_index(
    articles: list[Article],
    folder: Path,
    params: ChunkerParams,
    embedder: Embedder,
    query_embedder: Embedder | None = None,
) -> IndexRun:
    """Ingest the articles under ``folder`` (a no-op when the cached index is current)."""
    started = time.perf_counter()
    documents = folder / "docs"
    write_documents(articles, documents)
    backend = "" if embedder.backend == "torch" else f"-{embedder.backend}"
    name = f"index-c{params.chunk_tokens}-o{params.overlap_tokens}{backend}-{code_version()}"
    root = folder / name
    report = Pipeline(embedder, params).run([documents], root)
    if report.failed:
        raise RuntimeError(f"ingestion failed: {report.failed}")
    log.info("index %s: %d chunks embedded in %.1fs", root, report.chunks_embedded, report.seconds)
    reader = IndexReader(root, query_embedder or embedder)
    return IndexRun(params.chunk_tokens, reader, time.perf_counter() - started)
