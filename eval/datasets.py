"""Evaluation datasets: Syllabus's own JSONL, SQuAD 2.0 and the scientific-paper QA set.

Every dataset becomes a list of :class:`Item` (a question with its gold
answers, whether it can be answered, and what makes a passage relevant) and,
for the external sets, the documents that form its corpus.  The files are
read where they lie; nothing is copied into the project.

Syllabus's own format is one JSON object per line::

    {"id": "q1", "question": "What does the forget gate do?",
     "answers": ["decides what to drop from the cell state"],
     "answerable": true, "sources": ["lstm.md"], "chunk_ids": []}

Only ``question`` is required.  ``answers`` defaults to none, ``answerable``
to whether there are answers, ``id`` to the line number.  A passage is
relevant when its chunk id is in ``chunk_ids``, else when its source is one
of ``sources``, else when it contains a gold answer.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval import squad
from eval.metrics import normalise

SCIENTIFIC_RELATIVE = Path("shared/data/leval-scientific-qa/scientific_qa.jsonl")
_YES_NO = {"yes", "no"}


class DatasetError(ValueError):
    """A dataset file that cannot be read as any known format, with where and why."""


@dataclass(frozen=True, slots=True)
class Item:
    """One question and what counts as a right answer and a relevant passage."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    answerable: bool = True
    sources: tuple[str, ...] = ()
    chunk_ids: tuple[str, ...] = ()
    document: str | None = None  # relevant passages must come from this document
    judged_retrieval: bool = True  # False when no passage can be judged (e.g. yes/no answers)


@dataclass(frozen=True, slots=True)
class Dataset:
    """Items, and for external sets the corpus they are asked about."""

    name: str
    path: Path
    split: str
    items: list[Item]
    corpus: dict[str, str] = field(default_factory=dict)  # file name -> text; empty: own corpus

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def describe(self) -> dict[str, Any]:
        answerable = sum(i.answerable for i in self.items)
        return {
            "name": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "split": self.split,
            "questions": len(self.items),
            "answerable": answerable,
            "unanswerable": len(self.items) - answerable,
        }


def shared_path(relative: Path) -> Path:
    """A file under ``../shared`` beside the project; raises when it is absent."""
    path = squad.PROJECT_ROOT.parent / relative
    if not path.is_file():
        raise squad.DatasetMissing(f"the dataset is absent: expected {path}")
    return path


def load(spec: str, split: str = "dev") -> Dataset:
    """``squad``, ``scientific-qa``, or a path to a SQuAD JSON or a JSONL file."""
    if spec == "squad":
        return load_squad(squad.default_path(), split)
    if spec == "scientific-qa":
        return load_scientific(shared_path(SCIENTIFIC_RELATIVE))
    path = Path(spec)
    if not path.is_file():
        raise squad.DatasetMissing(
            f"no dataset {spec!r}: name 'squad' or 'scientific-qa', or give a file's path"
        )
    if path.suffix == ".json":
        return load_squad(path, split)
    first = _first_object(path)
    if "instructions" in first and "input" in first:
        return load_scientific(path)
    return load_jsonl(path)


def load_squad(path: Path, split: str) -> Dataset:
    """The split's questions; its articles, one text document each, are the corpus."""
    articles = squad.split(squad.load_squad(path), _squad_split(split))
    items = [
        Item(
            id=q.id,
            question=q.question,
            answers=q.answers,
            answerable=q.answerable,
            document=squad.document_name(q.article),
        )
        for article in articles
        for q in article.questions
    ]
    corpus = {a.document_name: squad.document_text(a) for a in articles}
    return Dataset("squad", path, split, items, corpus)


def _squad_split(split: str) -> squad.Split:
    if split == "dev":
        return "dev"
    if split == "test":
        return "test"
    raise DatasetError(f"SQuAD has the splits dev (articles 0-17) and test (18-34), not {split!r}")


def load_scientific(path: Path) -> Dataset:
    """Papers become ``paper-NN.txt``; a passage is relevant when it holds the gold answer.

    Only answers found verbatim in their paper can mark a passage: yes/no and
    free-form answers written by the annotators are left out of the retrieval
    metrics (and still scored as answers).  "Unanswerable" marks an
    unanswerable question.
    """
    items, corpus = [], {}
    for number, record in enumerate(_objects(path)):
        name = f"paper-{number:02d}.txt"
        corpus[name] = str(record["input"])
        paper = normalise(corpus[name])
        pairs = zip(record["instructions"], record["outputs"], strict=True)
        for index, (question, answer) in enumerate(pairs):
            answer = str(answer).strip()
            answerable = answer.lower() != "unanswerable"
            items.append(
                Item(
                    id=f"paper-{number:02d}-q{index:02d}",
                    question=str(question),
                    answers=(answer,) if answerable else (),
                    answerable=answerable,
                    document=name,
                    judged_retrieval=answerable
                    and answer.lower() not in _YES_NO
                    and normalise(answer) in paper,
                )
            )
    return Dataset("scientific-qa", path, "all", items, corpus)


def load_jsonl(path: Path) -> Dataset:
    """Syllabus's own format, asked about an existing collection."""
    items = [_own_item(record, line) for line, record in _numbered_objects(path)]
    if not items:
        raise DatasetError(f"{path}: no questions")
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{path}: question ids must be unique")
    return Dataset(path.stem, path, "all", items)


def _own_item(record: dict[str, Any], line: int) -> Item:
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"line {line}: 'question' must be a non-empty string")
    answers = _strings(record, "answers", line)
    answerable = record.get("answerable", bool(answers))
    if not isinstance(answerable, bool):
        raise DatasetError(f"line {line}: 'answerable' must be true or false")
    return Item(
        id=str(record.get("id", line)),
        question=question.strip(),
        answers=answers,
        answerable=answerable,
        sources=_strings(record, "sources", line),
        chunk_ids=_strings(record, "chunk_ids", line),
        judged_retrieval=answerable,
    )


def _strings(record: dict[str, Any], key: str, line: int) -> tuple[str, ...]:
    value = record.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetError(f"line {line}: {key!r} must be a list of strings")
    return tuple(v for v in value if v.strip())


def _numbered_objects(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}, line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{path}, line {number}: expected a JSON object")
        rows.append((number, record))
    return rows


def _objects(path: Path) -> list[dict[str, Any]]:
    return [record for _, record in _numbered_objects(path)]


def _first_object(path: Path) -> dict[str, Any]:
    rows = _numbered_objects(path)
    if not rows:
        raise DatasetError(f"{path}: empty")
    return rows[0][1]


def sample(items: Sequence[Item], limit: int | None, seed: int = 0) -> list[Item]:
    """All items, or a fixed ``limit`` drawn with ``seed``, kept in file order.

    When the set has both kinds, the sample is half unanswerable (as far as
    there are enough of them), so abstention is measured on equal footing.
    """
    if limit is None or limit >= len(items):
        return list(items)
    rng = random.Random(seed)
    answerable = [i for i, item in enumerate(items) if item.answerable]
    impossible = [i for i, item in enumerate(items) if not item.answerable]
    n_impossible = min(len(impossible), limit // 2) if answerable else limit
    n_answerable = min(len(answerable), limit - n_impossible)
    n_impossible = limit - n_answerable
    chosen = rng.sample(answerable, n_answerable) + rng.sample(impossible, n_impossible)
    return [items[i] for i in sorted(chosen)]
