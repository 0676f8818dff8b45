"""Answer-level evaluation on SQuAD 2.0: abstention calibration and strategy comparison.

``calibrate`` measures, for every question of a split, the best dense cosine
the service abstains on, sweeps ``abstain_threshold`` and picks one (best
abstention F1 while answering >= 90 % of answerable questions); it also
scores hand-written in-domain and off-topic questions against the demo
corpus.  ``strategies`` runs a fixed sample of questions through the
service's own ``Answerer`` under each ``answer_strategy`` (about 20 s per
question for the three on two CPU cores); ``rescore`` recomputes such a
report from the per-question records it keeps.  Choose on dev; on test,
pass the chosen values::

    python -m eval.bench.squad_answers calibrate --split dev
    python -m eval.bench.squad_answers strategies --split dev --sample 60 --abstain-threshold 0.3
    python -m eval.bench.squad_answers rescore var/bench/answers-strategies-dev.json
    python -m eval.bench.squad_answers calibrate --split test --threshold 0.3
    python -m eval.bench.squad_answers strategies --split test --strategy extractive --sample 150

Reports go to ``var/bench/answers-<command>-<split>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eval import calibration, squad
from eval.bench import strategies
from eval.provenance import git_commit, write_report
from indexes import DataRoot, IndexError_, SentenceTransformerEmbedder
from service.answering import Answerer, AnswerPolicy, Strategy
from service.generation.factory import build_generator
from service.library import Library
from service.settings import Settings

log = logging.getLogger(__name__)

BENCH = squad.PROJECT_ROOT / "var" / "bench"


def _embedder() -> SentenceTransformerEmbedder:
    embedder = Settings().embedder()  # the configured backend, as the service runs it
    embedder.load()
    return embedder


def run_calibrate(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The calibration report as JSON and markdown."""
    result = calibration.calibrate(args.data, args.split, _embedder(), args.threshold)
    return calibration.as_json(result), calibration.markdown(result)


def _policy(strategy: Strategy, args: argparse.Namespace, settings: Settings) -> AnswerPolicy:
    return settings.policy(answer_strategy=strategy, abstain_threshold=args.abstain_threshold)


async def _run_strategies(
    args: argparse.Namespace, settings: Settings
) -> tuple[dict[str, list[strategies.Record]], dict[str, Any]]:
    embedder = _embedder()
    articles = squad.split(squad.load_squad(args.data), args.split)
    index = calibration.squad_index(articles, args.split, embedder, settings)
    library = Library(DataRoot(index.reader.root.parent), embedder, settings.fusion())
    generator = build_generator(settings)
    checker = settings.checker(embedder)
    questions = strategies.sample_questions(articles, args.sample, args.seed)
    answerers = {
        name: Answerer(library, embedder, generator, checker, _policy(name, args, settings))
        for name in args.strategy or strategies.STRATEGIES
    }
    runs: dict[str, list[strategies.Record]] = {}
    try:
        for name, answerer in answerers.items():
            runs[name] = await strategies.answer_all(answerer, questions, index.reader.root.name)
    finally:
        await generator.aclose()
    return runs, index.summary()


def run_strategies(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The strategy comparison as JSON and markdown."""
    started = time.perf_counter()
    settings = Settings()
    runs, index = asyncio.run(_run_strategies(args, settings))
    meta = {
        "split": args.split,
        "sample": {"size": args.sample, "seed": args.seed, "answerable_share": 2 / 3},
        "config": {
            "abstain_threshold": args.abstain_threshold,
            "support_threshold": settings.support_threshold,
            "min_supported_ratio": settings.min_supported_ratio,
            "max_answer_tokens": settings.max_answer_tokens,
            "fusion": asdict(settings.fusion()),
        },
        "index": index,
        "wall_seconds": time.perf_counter() - started,
    }
    report = strategies_report(runs, meta)
    return report, _strategies_markdown(report)


def run_rescore(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """A strategies report recomputed from the per-question records it holds."""
    saved = json.loads(args.report.read_text(encoding="utf-8"))
    runs = {k: strategies.records_from_json(v) for k, v in saved["records"].items()}
    kept = ("git_commit", "data", "split", "sample", "config", "index", "wall_seconds")
    meta = {k: saved[k] for k in kept}
    report = strategies_report(runs, meta)
    return report, _strategies_markdown(report)


def strategies_report(
    runs: dict[str, list[strategies.Record]], meta: dict[str, Any]
) -> dict[str, Any]:
    """Summaries, the offline support sweep and the records, after ``meta``."""
    config = meta["config"]
    sweep = []
    if "generative" in runs and "extractive" in runs:
        sweep = strategies.support_sweep(runs["generative"], runs["extractive"])
    agreement = _agreement(runs, config["support_threshold"], config["min_supported_ratio"])
    return meta | {
        "summaries": {name: strategies.summarise(records) for name, records in runs.items()},
        "auto_agreement": agreement,
        "support_sweep": sweep,
        "records": {name: strategies.records_json(r) for name, r in runs.items()},
    }


def _agreement(
    runs: dict[str, list[strategies.Record]], support: float, ratio: float
) -> float | None:
    """Share of questions where ``auto`` re-scored offline gives the real run's answer."""
    if not {"auto", "generative", "extractive"} <= runs.keys():
        return None
    simulated = strategies.simulate_auto(runs["generative"], runs["extractive"], support, ratio)
    pairs = zip(simulated, runs["auto"], strict=True)
    same = [(s.mode, s.answer) == (a.mode, a.answer) for s, a in pairs]
    return sum(same) / len(same)


_SUMMARY_COLUMNS = (
    ("em", "EM"),
    ("f1", "F1"),
    ("contains_gold", "contains gold"),
    ("squad_v2_f1", "SQuAD2 F1"),
    ("abstain_precision", "abst. P"),
    ("abstain_recall", "abst. R"),
    ("mode_abstained", "abstained"),
    ("mode_generative", "generative"),
    ("mode_extractive", "extractive"),
    ("model_declined", "model declined"),
    ("answer_words", "words/answer"),
    ("first_token_ms", "first token ms"),
    ("mean_ms", "mean ms"),
)
_SWEEP_COLUMNS = (
    ("f1", "F1"),
    ("contains_gold", "contains gold"),
    ("mode_generative", "accepted"),
    ("accepted_gold", "gold in accepted gen."),
    ("extractive_gold_there", "gold in extractive there"),
)


def _table(rows: Sequence[dict[str, Any]], first: tuple[str, ...], columns: Any) -> str:
    head = [*first, *(label for _, label in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row[k]) for k in first]
        cells += [
            f"{row[key]:.0f}" if key.endswith("_ms") else f"{row[key]:.3f}" for key, _ in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _strategies_markdown(report: dict[str, Any]) -> str:
    rows = [{"strategy": name, **s} for name, s in report["summaries"].items()]
    text = _table(rows, ("strategy",), _SUMMARY_COLUMNS)
    if "auto" in report["summaries"]:
        auto = report["summaries"]["auto"]
        answered = auto["mode_generative"] + auto["mode_extractive"]
        share = auto["mode_generative"] / answered if answered else 0.0
        text += f"\n\nauto kept the generated answer for {share:.1%} of the questions it answered"
    if report["auto_agreement"] is not None:
        share = report["auto_agreement"]
        text += (
            "\n\nauto re-scored offline from the generative and extractive runs gives "
            f"the real auto answer on {share:.1%} of the questions"
        )
    if report["support_sweep"]:
        first = ("support_threshold", "min_supported_ratio")
        text += "\n\n" + _table(report["support_sweep"], first, _SWEEP_COLUMNS)
    return text


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench.squad_answers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cal = commands.add_parser("calibrate", help="sweep abstain_threshold")
    cal.add_argument("--threshold", type=float, help="evaluate this one threshold (test split)")
    strat = commands.add_parser("strategies", help="compare answer strategies")
    strat.add_argument("--sample", type=int, default=60, help="questions (2/3 answerable)")
    strat.add_argument("--seed", type=int, default=0)
    strat.add_argument("--abstain-threshold", type=float, default=Settings().abstain_threshold)
    strat.add_argument("--strategy", choices=strategies.STRATEGIES, action="append")
    for sub in (cal, strat):
        sub.add_argument("--split", choices=["dev", "test"], default="dev")
        sub.add_argument("--data", type=Path, help="SQuAD v2 JSON (default: ../shared/...)")
        sub.add_argument("--out", type=Path, help="JSON report (default: var/bench/...)")
    again = commands.add_parser("rescore", help="recompute a strategies report from its records")
    again.add_argument("report", type=Path, help="a JSON report of the strategies command")
    again.add_argument("--out", type=Path, help="where to write (default: over the report)")
    args = parser.parse_args(argv)
    if args.command == "rescore":
        args.out = args.out or args.report
        return args
    if args.command == "calibrate" and args.split == "test" and args.threshold is None:
        parser.error("the test split is for reporting only: pass the --threshold chosen on dev")
    args.data = args.data or squad.default_path()
    args.out = args.out or BENCH / f"answers-{args.command}-{args.split}.json"
    return args


def provenance(data: Path) -> dict[str, Any]:
    """The git commit and the data file's path and hash."""
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    return {"git_commit": git_commit(), "data": {"path": str(data), "sha256": digest}}


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry: markdown to stdout, progress to stderr, reports under ``var/bench``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    commands = {"calibrate": run_calibrate, "strategies": run_strategies, "rescore": run_rescore}
    try:
        report, text = commands[args.command](args)
    except (squad.DatasetMissing, IndexError_) as exc:
        sys.exit(f"error: {exc}")
    if args.command != "rescore":
        report = provenance(args.data) | report
    kind = "calibrate" if args.command == "calibrate" else "strategies"
    title = f"## SQuAD 2.0 {report['split']}: answers, {kind}\n\n"
    write_report(report, title + text, args.out)
    print(title + text)
    print(f"\nwall time {report['wall_seconds']:.0f}s; report in {args.out}")


if __name__ == "__main__":
    main()
