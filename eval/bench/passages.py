"""What retrieval hands the answer step: for each answerable question of the learner dev
set, searched as the service searches it (after the turn before when it follows up),
whether every key point stands in the first 1, 2, 3 and 5 passages. Retrieval only,
over the collection's index as it is now built (seconds)::

    python -m eval.bench.passages --out var/bench/passages.json

Run it after ``syllabus ingest corpus`` at two commits to compare what a change to
chunking or search puts in front of the model (two passages) and in the five retrieved.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from eval import datasets
from eval.bench.follow_ups import LEARNER_DEV, collection_reader
from eval.provenance import git_commit
from eval.qa_metrics import key_point_covered
from eval.squad import PROJECT_ROOT
from indexes import IndexReader
from service.answering.retrieve import retrieval_query
from service.generation.base import Message

DEPTHS = (1, 2, 3, 5)


def covered(reader: IndexReader, item: datasets.Item) -> list[bool]:
    """Whether every key point of ``item`` is in the first k passages, for each k of
    ``DEPTHS``."""
    history = [Message(role, content) for role, content in item.history]  # type: ignore[arg-type]
    query = retrieval_query(item.question, history, reader)
    texts = [h.chunk.text for h in reader.search(query, max(DEPTHS))]
    return [
        all(key_point_covered(p, "\n".join(texts[:k])) for p in item.key_points) for k in DEPTHS
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "var/bench/passages.json")
    args = parser.parse_args(argv)
    reader = collection_reader()
    items = [i for i in datasets.load(str(LEARNER_DEV)).items if i.key_points]
    rows = {item.id: covered(reader, item) for item in items}
    totals = {f"top{k}": sum(row[n] for row in rows.values()) for n, k in enumerate(DEPTHS)}
    report = {
        "git_commit": git_commit(),
        "chunks": reader.manifest.counts.chunks,
        "questions": len(rows),
        "every_key_point_in": totals,
        "per_question": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    print(f"{len(rows)} questions, {report['chunks']} chunks; every key point in the first")
    for depth, count in totals.items():
        print(f"  {depth}: {count}")


if __name__ == "__main__":
    main()
