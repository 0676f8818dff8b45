"""A course's own abstention threshold, calibrated on half of its questions and checked on
the other half: the scientific-paper QA set as a course of 23 papers.

Run: ``python -m eval.bench.course_calibration [--out var/bench/course-calibration.json]``.

The set's papers are sorted by name; the questions of the even-numbered papers calibrate
(``syllabus eval calibrate``'s rule: the highest threshold that still answers 97.5% of the
answerable questions), those of the odd-numbered ones are held out and report the
SQuAD-calibrated threshold in force against the course's own. The corpus is ingested as
``syllabus eval run scientific-qa`` ingests it (and reused when current).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eval import calibration, datasets, runner
from eval.provenance import git_commit
from indexes import DataRoot
from service.settings import Settings


def _half(items: list[datasets.Item], papers: list[str], parity: int) -> list[tuple[str, bool]]:
    return [
        (i.question, i.answerable) for i in items if papers.index(i.document or "") % 2 == parity
    ]


def _row(result: calibration.CollectionCalibration, threshold: float) -> dict[str, Any]:
    scores = result.row_at(threshold).scores
    return {
        "threshold": threshold,
        "answerable_answered": round(scores.answered_share, 4),
        "answerable_refused": len(result.answerable)
        - round(scores.answered_share * len(result.answerable)),
        "unanswerable_abstained": round(scores.recall, 4),
    }


def measure(work_dir: Path) -> dict[str, Any]:
    settings = Settings()
    dataset = datasets.load("scientific-qa")
    embedder = settings.embedder()
    embedder.load()
    name = runner.prepare_collection(dataset, work_dir, settings, embedder)
    folder = DataRoot(work_dir / "collections").existing(name).path
    reader = settings.reader(folder, embedder)
    papers = sorted({i.document or "" for i in dataset.items})
    current = settings.abstain_threshold
    tuned, held_out = (
        calibration.calibrate_collection(
            reader,
            embedder,
            _half(list(dataset.items), papers, parity),
            collection=name,
            dataset=f"scientific-qa {label}",
            current=current,
        )
        for parity, label in ((0, "even papers"), (1, "odd papers"))
    )
    chosen = tuned.chosen.threshold
    return {
        "commit": git_commit(),
        "collection": name,
        "rule": "highest threshold answering >= 97.5% of the answerable questions",
        "calibrated_on": {
            "questions": len(tuned.answerable) + len(tuned.unanswerable),
            "chosen": chosen,
            "curve": calibration.collection_table(tuned),
        },
        "held_out": {
            "questions": len(held_out.answerable) + len(held_out.unanswerable),
            "squad_threshold": _row(held_out, current),
            "course_threshold": _row(held_out, chosen),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench/course-calibration.json"))
    parser.add_argument("--work-dir", type=Path, default=Path("var/eval"))
    args = parser.parse_args()
    result = measure(args.work_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["held_out"], indent=2))


if __name__ == "__main__":
    main()
