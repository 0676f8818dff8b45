"""`syllabus eval compare`: deltas, and a non-zero exit when a metric got worse."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eval.compare import CompareError, compare, load_summary, same_questions
from service.cli import app

BASE: dict[str, Any] = {
    "dataset": {"name": "d", "split": "dev", "sha256": "abc", "questions": 10},
    "sample": {"limit": None, "seed": 0},
    "metrics": {
        "counts": {"questions": 10, "errors": 0},
        "answers": {"f1": 0.50, "exact": 0.40},
        "key_points": {},
        "answering": {},
        "latency": {"total_ms": {"p50": 100.0, "p95": 200.0, "p99": 300.0, "mean": 120.0}},
    },
}


def changed(**metrics: dict[str, Any]) -> dict[str, Any]:
    summary = copy.deepcopy(BASE)
    for group, values in metrics.items():
        summary["metrics"][group] |= values
    return summary


def regressed(after: dict[str, Any], **tolerances: float) -> list[str]:
    return [d.metric for d in compare(BASE, after, **tolerances) if d.regressed]


def test_quality_drop_beyond_the_tolerance_regresses() -> None:
    assert regressed(changed(answers={"f1": 0.495})) == []  # within 0.01
    assert regressed(changed(answers={"f1": 0.45})) == ["answers.f1"]
    assert regressed(changed(answers={"f1": 0.45}), tolerance=0.1) == []
    assert regressed(changed(answers={"f1": 0.9})) == []  # better is fine


def test_latency_regresses_relative_to_the_baseline() -> None:
    slower = changed(latency={"total_ms": {"p50": 140.0, "p95": 350.0, "p99": 300.0, "mean": 1.0}})
    assert regressed(slower) == ["latency.total_ms.p95"]  # 350 > 200 * 1.5; 140 < 150
    assert regressed(slower, latency_tolerance=1.0) == []


def test_more_refusals_of_answerable_questions_regress() -> None:
    base = {"answered_share": 0.8, "refused_answerable": 0.2, "abstained_unanswerable": 0.9}
    before = changed(answering=base)
    more_refused = changed(answering=base | {"answered_share": 0.7, "refused_answerable": 0.3})
    worse = [d.metric for d in compare(before, more_refused) if d.regressed]
    assert worse == ["answering.answered_share", "answering.refused_answerable"]
    fewer_refused = changed(answering=base | {"answered_share": 0.9, "refused_answerable": 0.1})
    assert not any(d.regressed for d in compare(before, fewer_refused))


def test_fewer_key_points_regress() -> None:
    before = changed(key_points={"all_covered": 0.5, "mean_recall": 0.7})
    after = changed(key_points={"all_covered": 0.4, "mean_recall": 0.7})
    assert [d.metric for d in compare(before, after) if d.regressed] == ["key_points.all_covered"]


def test_more_errors_regress_and_other_counts_do_not() -> None:
    assert regressed(changed(counts={"errors": 1, "questions": 5})) == ["counts.errors"]


def test_delta_of_a_metric_only_one_run_has() -> None:
    deltas = {d.metric: d for d in compare(BASE, changed(answers={"contains_gold": 0.7}))}
    only_after = deltas["answers.contains_gold"]
    assert (only_after.before, only_after.change, only_after.regressed) == (None, None, False)


def test_warns_when_the_runs_asked_different_questions() -> None:
    other = copy.deepcopy(BASE)
    other["dataset"]["split"] = "test"
    other["sample"] = {"limit": 5, "seed": 0}
    assert same_questions(BASE, other) == [
        "the datasets differ in split",
        "the runs drew different samples of questions",
    ]


def test_warns_when_the_runs_asked_for_different_styles() -> None:
    short = copy.deepcopy(BASE) | {"style": "short"}
    warning = "the runs asked for different answer styles (explain vs short)"
    assert same_questions(BASE, short) == [warning]  # a summary without a style: explain
    assert same_questions(short, short) == []


def write_run(folder: Path, summary: dict[str, Any]) -> Path:
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def test_cli_exit_code_gates_a_change(tmp_path: Path) -> None:
    before = write_run(tmp_path / "a", BASE)
    same = write_run(tmp_path / "b", BASE)
    worse = write_run(tmp_path / "c", changed(answers={"exact": 0.2}))
    runner = CliRunner()
    ok = runner.invoke(app, ["eval", "compare", str(before), str(same)])
    assert ok.exit_code == 0, ok.output
    assert "no metric got worse" in ok.output
    bad = runner.invoke(app, ["eval", "compare", str(before), str(worse)])
    assert bad.exit_code == 1
    assert "answers.exact" in bad.output


def test_a_folder_without_a_summary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CompareError, match=r"no summary\.json"):
        load_summary(tmp_path)
    result = CliRunner().invoke(app, ["eval", "compare", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 2
    assert "is it an eval run's --out folder" in " ".join(result.output.split())
