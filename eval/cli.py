"""``syllabus eval``: run an evaluation, compare two runs, re-render a report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from eval import calibration, datasets, runner
from eval import compare as comparing
from eval.scoring import summarise
from eval.squad import DatasetMissing
from eval.target import Style
from indexes import EmbedderUnavailable, IndexError_
from service.course import CourseConfigInvalid
from service.settings import Settings

_GROUPS = ("retrieval", "answers", "key_points", "answering", "abstention", "grounding", "judge")

app = typer.Typer(help="Evaluate answer quality on a dataset.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

DatasetArg = Annotated[
    str,
    typer.Argument(help="'squad', 'scientific-qa', or the path of a JSONL (or SQuAD JSON) file."),
]


@contextmanager
def _errors_as_messages() -> Iterator[None]:
    try:
        yield
    except (
        runner.RunError,
        comparing.CompareError,
        datasets.DatasetError,
        DatasetMissing,
        IndexError_,
        EmbedderUnavailable,
        CourseConfigInvalid,
    ) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None


class _Bar:
    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("questions", total=None)

    def start(self, total: int, done: int) -> None:
        self._progress.update(self._task, total=total, completed=done)

    def advance(self, item_id: str) -> None:
        self._progress.update(self._task, advance=1, description=item_id[-24:])


@app.command("run")
def run_command(
    dataset: DatasetArg,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the results and reports.")],
    split: Annotated[str, typer.Option(help="SQuAD split: dev (tuning) or test.")] = "dev",
    limit: Annotated[
        int | None, typer.Option(min=1, help="A fixed sample of N questions (half unanswerable).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    url: Annotated[str | None, typer.Option(help="Evaluate a running service at this URL.")] = None,
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Collection to ask.")
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, max=20, help="Passages per answer.")] = 5,
    judge: Annotated[
        bool, typer.Option("--judge", help="Add LLM-judged faithfulness and relevancy.")
    ] = False,
    work_dir: Annotated[
        Path, typer.Option(help="Where datasets' corpora and indexes are kept.")
    ] = Path("var/eval"),
    style: Annotated[
        Style | None,
        typer.Option(
            help="Answer style asked of /v1/ask (default: short for squad, explain otherwise)."
        ),
    ] = None,
    per_document: Annotated[
        bool,
        typer.Option(
            "--scope-per-document",
            help="Ask each question within its own document (scientific-qa: its paper).",
        ),
    ] = False,
) -> None:
    """Answer every question (resumable), then write summary.json, results.jsonl and reports."""
    options = runner.RunOptions(
        dataset=dataset, out=out_dir, split=split, limit=limit, seed=seed, url=url,
        collection=collection, top_k=top_k, judge=judge, work_dir=work_dir,
        style=style, per_document=per_document,
    )  # fmt: skip
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    with _errors_as_messages(), Progress(*columns, console=err, transient=True) as progress:
        summary = asyncio.run(runner.run(options, Settings(), _Bar(progress)))
    _print_summary(summary)
    out.print(f"reports in {out_dir}/ (report.md, report.html, summary.json, results.jsonl)")


def _print_summary(summary: dict[str, object]) -> None:
    metrics = summary["metrics"]
    assert isinstance(metrics, dict)
    table = Table("group", "metric", "value")
    for group in _GROUPS:
        for name, value in (metrics.get(group) or {}).items():
            table.add_row(group, name, "-" if value is None else f"{value:.3f}")
    for name, cuts in metrics["latency"].items():
        table.add_row("latency", f"{name} p50 / p95", f"{cuts['p50']:.0f} / {cuts['p95']:.0f}")
    out.print(table)


@app.command("calibrate")
def calibrate_command(
    dataset: DatasetArg,
    collection: Annotated[str, typer.Option("--collection", "-c", help="The collection.")],
    split: Annotated[str, typer.Option(help="The split to calibrate on (never test).")] = "dev",
    write: Annotated[
        bool, typer.Option("--write", help="Write the threshold to the collection's course.json.")
    ] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Also write the curve (JSON, SVG) here.")
    ] = None,
) -> None:
    """Choose a collection's abstention threshold from a labelled set of its own questions:
    the highest that still answers 97.5% of the answerable ones (the rule chosen on SQuAD)."""
    from indexes import DataRoot
    from service.course import Courses, effective

    settings = Settings()
    with _errors_as_messages():
        items = datasets.load(dataset, split).items
        folder = DataRoot(settings.data_dir).existing(collection).path
        courses = Courses(settings.generator)
        current = effective(settings, collection, courses.config(folder))["abstain_threshold"]
        embedder = settings.embedder()
        embedder.load()
        reader = settings.reader(folder, embedder)
        try:
            result = calibration.calibrate_collection(
                reader, embedder, [(i.question, i.answerable) for i in items],
                collection=collection, dataset=dataset, current=current,
            )  # fmt: skip
            chosen = result.chosen
        except ValueError as exc:
            raise runner.RunError(str(exc)) from None
    _print_curve(result)
    before, after = result.row_at(current).scores, chosen.scores
    out.print(
        f"{len(result.answerable)} answerable, {len(result.unanswerable)} unanswerable questions. "
        f"Chosen: [bold]{chosen.threshold:.2f}[/] (answers {after.answered_share:.1%} of the "
        f"answerable, abstains on {after.recall:.1%} of the others); in force: {current:.2f} "
        f"({before.answered_share:.1%} / {before.recall:.1%})."
    )
    if out_dir is not None:
        _write_curve(result, out_dir)
    if write:
        with _errors_as_messages():
            courses.update(folder, {"abstain_threshold": chosen.threshold})
        out.print(f"written to {collection}/course.json: abstain_threshold={chosen.threshold}")
    else:
        out.print("[dim]not written: add --write to set it for the collection[/]")


def _print_curve(result: calibration.CollectionCalibration) -> None:
    table = Table("threshold", "answerable answered", "unanswerable abstained", "abstention F1")
    for row in calibration.collection_table(result):
        mark = ""
        if row["threshold"] == result.chosen.threshold:
            mark = " (chosen)"
        elif row["threshold"] == round(result.current, 2):
            mark = " (in force)"
        table.add_row(
            f"{row['threshold']:.2f}{mark}",
            f"{row['answerable_answered']:.3f}",
            f"{row['unanswerable_abstained']:.3f}",
            f"{row['abstention_f1']:.3f}",
        )
    out.print(table)


def _write_curve(result: calibration.CollectionCalibration, out_dir: Path) -> None:
    from service import svg

    out_dir.mkdir(parents=True, exist_ok=True)
    table = calibration.collection_table(result)
    body = {
        "collection": result.collection,
        "dataset": result.dataset,
        "rule": "highest threshold answering >= 97.5% of the answerable questions",
        "chosen": result.chosen.threshold,
        "in_force": result.current,
        "curve": table,
    }
    (out_dir / "calibration.json").write_text(json.dumps(body, indent=2) + "\n")
    histogram = svg.histogram(
        {"answerable": result.answerable, "not covered": result.unanswerable},
        marker=("chosen", result.chosen.threshold),
        x_label="best passage similarity",
        title=f"{result.collection}: best passage similarity of its questions",
    )
    (out_dir / "calibration.svg").write_text(histogram)
    out.print(f"curve in {out_dir}/ (calibration.json, calibration.svg)")


@app.command("compare")
def compare_command(
    before: Annotated[Path, typer.Argument(help="The baseline run folder (or summary.json).")],
    after: Annotated[Path, typer.Argument(help="The run to judge against it.")],
    tolerance: Annotated[
        float, typer.Option(help="Allowed drop of a quality metric (absolute).")
    ] = 0.01,
    latency_tolerance: Annotated[
        float, typer.Option(help="Allowed slow-down of a latency percentile (0.5 = 50%).")
    ] = 0.5,
) -> None:
    """A table of metric deltas; exits 1 when a metric got worse than the tolerance allows."""
    with _errors_as_messages():
        a, b = comparing.load_summary(before), comparing.load_summary(after)
    for warning in comparing.same_questions(a, b):
        err.print(f"[yellow]warning:[/] {warning}")
    deltas = comparing.compare(a, b, tolerance=tolerance, latency_tolerance=latency_tolerance)
    table = Table("metric", "before", "after", "change", "")
    for d in deltas:
        cells = ["-" if v is None else f"{v:.3f}" for v in (d.before, d.after, d.change)]
        table.add_row(d.metric, *cells, "[red]worse[/]" if d.regressed else "")
    out.print(table)
    worse = [d.metric for d in deltas if d.regressed]
    if worse:
        err.print(f"[bold red]{len(worse)} metric(s) got worse:[/] {', '.join(worse)}")
        raise typer.Exit(1)
    out.print("no metric got worse beyond the tolerances")


@app.command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run's --out folder.")],
) -> None:
    """Recompute the metrics from results.jsonl and write the reports again."""
    with _errors_as_messages():
        summary = comparing.load_summary(run_dir)
    rows = runner.read_results(run_dir / runner.RESULTS)
    summary["metrics"] = summarise(rows)
    runner.write_reports(run_dir, summary, rows)
    out.print(f"rewrote the reports in {run_dir}/ from {len(rows)} results")


@app.command("corpus")
def corpus_command(
    dataset: DatasetArg,
    folder: Annotated[Path, typer.Argument(help="Where to write the corpus's documents.")],
    split: Annotated[str, typer.Option(help="SQuAD split: dev or test.")] = "dev",
) -> None:
    """Write a dataset's corpus as files, to ingest into a service evaluated with --url."""
    with _errors_as_messages():
        data = datasets.load(dataset, split)
    if not data.corpus:
        err.print("[bold red]error:[/] this dataset is asked about an existing collection")
        raise typer.Exit(2)
    runner.write_corpus(data, folder)
    name = f"{data.name}-{data.split}"
    out.print(
        f"wrote {len(data.corpus)} documents to {folder}/; next: "
        f"syllabus ingest {folder} --collection {name}"
    )
    out.print(json.dumps(data.describe()), highlight=False)
