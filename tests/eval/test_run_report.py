"""The run reports show the key-point and answering metrics, and what an answer missed."""

from __future__ import annotations

from typing import Any

from eval import run_report
from eval.datasets import Item
from eval.scoring import Observation, score, summarise

FORGET = Item("f", "what does its forget gate do?", key_points=("cell state", "keep"))
SPLADE = Item("s", "what is <splade>?", answerable=False)


def observed(answer: str, mode: str = "generative") -> Observation:
    return Observation(answer, mode, "test", [], [], [True], 0.5, 0.3, {"total_ms": 10.0})


def report_inputs() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = [
        score(FORGET, observed("It erases parts of the cell state [1].")),
        score(SPLADE, observed("It is a <b>sparse</b> retriever [1].")),
    ]
    summary = {
        "dataset": {"name": "learner-dev", "split": "dev", "path": "x.jsonl", "sha256": "ab" * 32,
                    "questions": 2},
        "sample": {"limit": None, "seed": 0},
        "target": "in-process",
        "collection": None,
        "style": "explain",
        "metrics": summarise(rows),
    }  # fmt: skip
    return summary, rows


def test_markdown_has_the_new_groups_and_the_missed_key_points() -> None:
    summary, rows = report_inputs()
    text = run_report.markdown(summary, rows)
    assert "## Key points" in text and "| mean_recall | 0.500 |" in text
    assert "## Answering" in text and "| refused_answerable | 0.000 |" in text
    assert "| answer style | explain |" in text
    # graded by its key points although it has no gold answer
    assert "key points: cell state; keep (missed: keep)" in text
    assert "key points 0.500" in text


def test_html_has_them_too_and_escapes_questions() -> None:
    summary, rows = report_inputs()
    page = run_report.html(summary, rows)
    assert "<h2>Key points" in page and "abstained_unanswerable" in page
    assert "(missed: keep)" in page
    assert "what is &lt;splade&gt;?" in page and "<b>" not in page


def test_groups_with_no_values_are_left_out() -> None:
    summary, rows = report_inputs()
    rows = [score(SPLADE, observed("", "abstained"))]
    summary["metrics"] = summarise(rows)
    titles = [title for title, _ in run_report.metric_rows(summary)]
    assert not any(t.startswith("Key points") for t in titles)
