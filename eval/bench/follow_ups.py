"""Follow-ups and new questions in a conversation: what each way of searching retrieves.

A question asked after others is searched alone, always after the learner's previous
turn (Syllabus before this rule), or by ``service.answering.retrieve.follows_up``
with a range of ``share`` values (a term in at most that share of the chunks names a
subject of the question's own). Over the learner dev set's questions with history
(``followup``: they lean on it; ``switch``: a new subject after another) and
*synthetic switches* (each answerable first-turn question asked after three other
questions of the set), it counts the questions whose key points are all in the two
passages the model writes from, and in the five retrieved. Retrieval only: no model,
about a minute::

    python -m eval.bench.follow_ups --shares 0.05 0.08 0.1
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval import datasets
from eval.provenance import git_commit
from eval.qa_metrics import key_point_covered
from eval.squad import PROJECT_ROOT
from indexes import DataRoot, IndexReader
from service.answering.retrieve import follows_up
from service.settings import Settings

LEARNER_DEV = PROJECT_ROOT / "eval" / "examples" / "learner-dev.jsonl"
WRITTEN_FROM = 2  # the passages the model is given (README, "How a question is answered")
RETRIEVED = 5
# Each first-turn question is asked after the questions this many places further on.
SWITCH_OFFSETS = (1, 7, 19)

Pair = tuple[datasets.Item, str]  # a question, and the learner's turn before it


def synthetic_switches(items: Sequence[datasets.Item]) -> list[Pair]:
    """Every answerable question without history, after others of the set (in most
    pairs about another subject)."""
    first = [i for i in items if not i.history and i.key_points]
    return [
        (item, first[(n + offset) % len(first)].question)
        for n, item in enumerate(first)
        for offset in SWITCH_OFFSETS
    ]


def _previous(item: datasets.Item) -> str:
    return [content for role, content in item.history if role == "user"][-1]


def queries(
    question: str, previous: str, reader: IndexReader, shares: Sequence[float]
) -> dict[str, str]:
    """The text each way searches ``question`` with, after ``previous``."""
    after = f"{previous}\n{question}"
    found = {"alone": question, "always after": after}
    chunks = reader.manifest.counts.chunks
    for share in shares:
        leans = follows_up(question, reader.vocabulary, chunks, share)
        found[f"rule {share:g}"] = after if leans else question
    return found


def _covered(reader: IndexReader, query: str, points: Sequence[str]) -> tuple[bool, bool]:
    texts = [h.chunk.text for h in reader.search(query, RETRIEVED)]
    return tuple(  # type: ignore[return-value]
        all(key_point_covered(p, "\n".join(texts[:k])) for p in points)
        for k in (WRITTEN_FROM, RETRIEVED)
    )


def measure(reader: IndexReader, pairs: Sequence[Pair], shares: Sequence[float]) -> dict[str, Any]:
    """Per way of searching: the questions with every key point in the first two and
    in the five passages."""
    counts: dict[str, list[int]] = {}
    for item, previous in pairs:
        for way, query in queries(item.question, previous, reader, shares).items():
            tally = counts.setdefault(way, [0, 0])
            for k, covered in enumerate(_covered(reader, query, item.key_points)):
                tally[k] += covered
    return {
        way: {f"top{WRITTEN_FROM}": a, f"top{RETRIEVED}": b, "of": len(pairs)}
        for way, (a, b) in counts.items()
    }


def collection_reader() -> IndexReader:
    """The configured collection's index, searched as the service searches it (its
    embedder and fusion settings)."""
    settings = Settings()
    embedder = settings.embedder()
    embedder.load()
    return settings.reader(
        DataRoot(settings.data_dir).collection(settings.collection).path, embedder
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.05, 0.08, 0.1])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "var/bench/follow-ups.json")
    args = parser.parse_args(argv)
    reader = collection_reader()
    items = datasets.load(str(LEARNER_DEV)).items
    groups = {
        kind: [(i, _previous(i)) for i in items if i.kind == kind and i.key_points]
        for kind in ("followup", "switch")
    }
    groups["synthetic switches"] = synthetic_switches(items)
    measured = {name: measure(reader, pairs, args.shares) for name, pairs in groups.items()}
    report = {"git_commit": git_commit(), "chunks": reader.manifest.counts.chunks}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report | {"groups": measured}, indent=2) + "\n", "utf-8")
    for name, figures in measured.items():
        print(f"{name}:")
        for way, row in figures.items():
            print(
                f"  {way:14} top{WRITTEN_FROM} {row[f'top{WRITTEN_FROM}']:3}  "
                f"top{RETRIEVED} {row[f'top{RETRIEVED}']:3}  of {row['of']}"
            )


if __name__ == "__main__":
    main()
