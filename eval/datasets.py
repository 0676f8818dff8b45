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
to whether there are answers (or key points), ``id`` to the line number.  A passage is
relevant when its chunk id is in ``chunk_ids``, else when its source is one
of ``sources``, else when it contains a gold answer.

Optional fields describe how a learner asks and what a good answer says::

    {"id": "fu-forget", "split": "dev", "kind": "followup",
     "question": "what does its forget gate do?",
     "history": [{"role": "user", "content": "what is an lstm?"},
                 {"role": "assistant", "content": "A recurrent network with gates [1]."}],
     "sources": ["rnns-and-lstms.md"], "key_points": ["cell state", "keep"]}

``key_points`` are short phrases a good answer must contain (scored by
:func:`eval.qa_metrics.key_point_covered`); an unanswerable question has
none.  ``history`` is the conversation before the question, sent with it.
``kind`` is one of :data:`KINDS` (``followup``: leans on the history; ``switch``: asks
about something else after it).  ``split`` names the set the file is (all
its lines agree; ``dev`` for a set that is tuned on), else it is ``all``.
Other fields (such as ``absent_term``) are ignored.
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
KINDS = (
    "why",
    "how",
    "definition",
    "compare",
    "formula",
    "fact",
    "followup",
    "switch",
    "uncovered",
)
ROLES = ("user", "assistant")
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
    key_points: tuple[str, ...] = ()  # phrases a good answer must contain
    history: tuple[tuple[str, str], ...] = ()  # (role, content) turns before the question
    kind: str | None = None  # one of KINDS


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
    rows = _numbered_objects(path)
    items = [_own_item(record, line) for line, record in rows]
    if not items:
        raise DatasetError(f"{path}: no questions")
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{path}: question ids must be unique")
    return Dataset(path.stem, path, _file_split(path, rows), items)


def _file_split(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> str:
    splits: dict[str, int] = {}  # split -> first line naming it
    for line, record in rows:
        split = record.get("split", "all")
        if not isinstance(split, str) or not split.strip():
            raise DatasetError(f"line {line}: 'split' must be a non-empty string")
        splits.setdefault(split.strip(), line)
    if len(splits) > 1:
        named = ", ".join(f"{s!r} (line {n})" for s, n in splits.items())
        raise DatasetError(f"{path}: one file holds one split, this one has {named}")
    return next(iter(splits), "all")


def _own_item(record: dict[str, Any], line: int) -> Item:
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"line {line}: 'question' must be a non-empty string")
    answers = _strings(record, "answers", line)
    key_points = _strings(record, "key_points", line)
    answerable = record.get("answerable", bool(answers or key_points))
    if not isinstance(answerable, bool):
        raise DatasetError(f"line {line}: 'answerable' must be true or false")
    if key_points and not answerable:
        raise DatasetError(f"line {line}: an unanswerable question has no 'key_points'")
    return Item(
        id=str(record.get("id", line)),
        question=question.strip(),
        answers=answers,
        answerable=answerable,
        sources=_strings(record, "sources", line),
        chunk_ids=_strings(record, "chunk_ids", line),
        judged_retrieval=answerable,
        key_points=tuple(p.strip() for p in key_points),
        history=_history(record, line),
        kind=_kind(record, line),
    )


def _history(record: dict[str, Any], line: int) -> tuple[tuple[str, str], ...]:
    value = record.get("history", [])
    if not isinstance(value, list):
        raise DatasetError(f"line {line}: 'history' must be a list of {{role, content}} turns")
    turns = []
    for number, turn in enumerate(value, start=1):
        where = f"line {line}: history turn {number}"
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            raise DatasetError(f"{where} must be an object with exactly 'role' and 'content'")
        role, content = turn["role"], turn["content"]
        if role not in ROLES:
            raise DatasetError(f"{where}: 'role' must be 'user' or 'assistant', not {role!r}")
        if not isinstance(content, str) or not content.strip():
            raise DatasetError(f"{where}: 'content' must be a non-empty string")
        turns.append((role, content))
    return tuple(turns)


def _kind(record: dict[str, Any], line: int) -> str | None:
    kind = record.get("kind")
    if kind is not None and kind not in KINDS:
        raise DatasetError(f"line {line}: 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    return kind


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
