"""The learner dev set: its shape, and that it says true things about the notes.

Every key point must be in a note the question cites (as the service indexes
it), and every uncovered question's subject must be absent from every note,
so that abstaining on it is right.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from typing import Any

import pytest

from eval import datasets
from eval.datasets import KINDS
from ingest.loaders import load
from tests.paths import PROJECT

LEARNER = PROJECT / "eval" / "examples" / "learner-dev.jsonl"
CORPUS = PROJECT / "corpus"
_MARKUP = re.compile(r"[*`]")


def _records() -> list[dict[str, Any]]:
    lines = LEARNER.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


RECORDS = _records()
UNCOVERED = [r for r in RECORDS if r["kind"] == "uncovered"]
WITH_POINTS = [r for r in RECORDS if r.get("key_points")]


def normalised(text: str) -> str:
    """Lower case, Markdown emphasis and backticks removed, whitespace collapsed."""
    return " ".join(_MARKUP.sub("", text).lower().split())


@cache
def note_text(name: str) -> str:
    """A corpus file's text as ingestion extracts it (the PDF's through pypdf)."""
    path = CORPUS / name
    document = load(path, path.read_bytes())
    parts = [document.title, *(h for b in document.blocks for h in b.heading_path)]
    return normalised("\n".join(parts + [b.text for b in document.blocks]))


def test_the_set_has_enough_questions_of_every_kind() -> None:
    data = datasets.load(str(LEARNER))
    kinds = Counter(i.kind for i in data.items)
    assert len(data.items) >= 70
    assert sum(i.answerable for i in data.items) + kinds["uncovered"] >= 60
    assert kinds["uncovered"] >= 15
    assert set(kinds) == set(KINDS)
    assert data.split == "dev"  # the set we tune on
    assert all(i.history for i in data.items if i.kind in ("followup", "switch"))


def test_uncovered_questions_are_unanswerable_without_key_points() -> None:
    for record in RECORDS:
        uncovered = record["kind"] == "uncovered"
        assert record["answerable"] is not uncovered, record["id"]
        if uncovered:
            assert not record["key_points"] and not record["sources"], record["id"]
            assert record["absent_term"].strip(), record["id"]
        else:
            assert 1 <= len(record["key_points"]) <= 3, record["id"]
            assert record["sources"], record["id"]


def test_cited_notes_exist() -> None:
    names = {p.name for p in CORPUS.iterdir()}
    cited = {s for r in RECORDS for s in r["sources"]}
    assert cited <= names, cited - names


@pytest.mark.parametrize("record", WITH_POINTS, ids=[r["id"] for r in WITH_POINTS])
def test_every_key_point_is_in_a_cited_note(record: dict[str, Any]) -> None:
    for point in record["key_points"]:
        assert 1 <= len(point.split()) <= 5, point
        wanted = normalised(point)
        assert any(wanted in note_text(s) for s in record["sources"]), (point, record["sources"])


@pytest.mark.parametrize("record", UNCOVERED, ids=[r["id"] for r in UNCOVERED])
def test_no_note_mentions_an_uncovered_subject(record: dict[str, Any]) -> None:
    term = re.compile(rf"(?<!\w){re.escape(normalised(record['absent_term']))}(?!\w)")
    for path in sorted(CORPUS.iterdir()):
        raw = normalised(path.read_text(encoding="utf-8")) if path.suffix == ".md" else ""
        for text in (note_text(path.name), raw):
            assert not term.search(text), f"{record['absent_term']!r} occurs in {path.name}"
