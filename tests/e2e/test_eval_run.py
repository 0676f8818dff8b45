"""`syllabus eval run` end to end with the real embedder, index and model.

In process, and over HTTP against `syllabus serve` in its own process; the
HTML report opened in Chromium.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from indexes import IndexReader
from ingest import IngestReport
from service.cli import app
from tests.paths import PROJECT

EXAMPLE = PROJECT / "eval" / "examples" / "course-questions.jsonl"
ARTIFACTS = PROJECT / "var" / "test-artifacts" / "eval"
HOSTILE = {
    "id": "hostile",
    "question": "Is <script>window.__pwned = 1</script> attention <img src=x "
    "onerror='window.__pwned = 2'> quadratic in length?",
    "answers": ["<b>never</b>"],
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dataset") / "questions.jsonl"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + json.dumps(HOSTILE) + "\n")
    return path


@pytest.fixture
def data_dir(
    demo_index: tuple[IndexReader, IngestReport], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    collections = tmp_path / "collections"
    shutil.copytree(demo_index[0].root, collections / "default")
    monkeypatch.setenv("SYLLABUS_DATA_DIR", str(collections))
    yield collections


def run_eval(*args: str) -> Any:
    result = CliRunner().invoke(app, ["eval", "run", *args])
    return result


def rows_of(out: Path) -> list[dict[str, Any]]:
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_in_process_run_writes_every_report_and_resumes(
    data_dir: Path, dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = run_eval(str(dataset), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {
        "summary.json", "results.jsonl", "report.md", "report.html", "run.json",
    }  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    metrics = summary["metrics"]
    assert metrics["counts"]["questions"] == 11 and metrics["counts"]["errors"] == 0
    assert metrics["abstention"]["recall"] == 1.0  # the three off-topic questions
    assert metrics["retrieval"]["hit@5"] >= 0.8  # each names the note that answers it
    assert summary["config"]["answer_strategy"] == "auto"
    assert summary["index"]["counts"]["chunks"] > 100  # the manifest of the demo index
    assert "Worst answers to answerable questions" in (out / "report.md").read_text()

    # Interrupted after four answers, the fifth cut off mid-line: the rerun asks only the rest.
    first = rows_of(out)
    kept = (out / "results.jsonl").read_text().splitlines()[:5]
    (out / "results.jsonl").write_text("\n".join(kept[:4]) + "\n" + kept[4][:40])
    again = run_eval(str(dataset), "--out", str(out))
    assert again.exit_code == 0, again.output
    resumed = rows_of(out)
    assert [r["id"] for r in resumed] == [r["id"] for r in first]
    assert resumed[:4] == first[:4]  # the same rows, timings included: not asked again

    other = run_eval(str(dataset), "--out", str(out), "--top-k", "3")
    assert other.exit_code == 2
    assert "holds a different run (top_k differ)" in " ".join(other.output.split())


def test_run_over_http_against_a_served_index(
    served_demo: str, dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "http"
    result = run_eval(str(dataset), "--url", served_demo, "--limit", "4", "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"] == served_demo
    assert summary["index"]["name"] == "default"
    rows = rows_of(out)
    assert len(rows) == 4 and sum(not r["answerable"] for r in rows) == 2  # half unanswerable
    answered = [r for r in rows if not r["abstained"]]
    assert answered
    for row in answered:  # first token and total timed by the client, reading the stream
        assert 0 < row["timings"]["first_token_ms"] <= row["timings"]["total_ms"]
    assert summary["metrics"]["latency"]["search_ms"]["p50"] > 0


def test_unreachable_service_is_a_clear_error(dataset: Path, tmp_path: Path) -> None:
    result = run_eval(str(dataset), "--url", "http://127.0.0.1:9", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "no service answers at http://127.0.0.1:9" in " ".join(result.output.split())


def test_judge_scores_answers_with_the_local_model(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    path.write_text("".join(EXAMPLE.read_text().splitlines(keepends=True)[:2]))
    out = tmp_path / "judged"
    result = run_eval(str(path), "--judge", "--out", str(out))
    assert result.exit_code == 0, result.output
    judge = json.loads((out / "summary.json").read_text())["metrics"]["judge"]
    assert set(judge) == {"faithfulness", "answer_relevancy"}
    assert all(0.0 <= v <= 1.0 for v in judge.values())


def test_html_report_opens_in_chromium_without_errors(
    data_dir: Path, dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "html"
    assert run_eval(str(dataset), "--out", str(out)).exit_code == 0
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless"]
        )
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((out / "report.html").as_uri())
        assert page.locator("figure svg").count() == 3
        assert page.locator("line.marker").count() == 1  # the abstention threshold
        assert page.locator(".failure").count() >= 5
        text = page.inner_text("body")
        assert "<script>window.__pwned = 1</script>" in text  # shown, not run
        assert page.evaluate("window.__pwned") is None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert errors == []
