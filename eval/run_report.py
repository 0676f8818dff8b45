"""The reports of an evaluation run: ``report.md`` and ``report.html``.

Both show the same things from ``summary.json`` and ``results.jsonl``: what
was run, every metric, latency percentiles and the worst failures with the
passages behind them.  The HTML adds charts (metric bars, the latency
histogram, and the best-passage scores of answerable and unanswerable
questions with the abstention threshold marked).  Everything from a
question, an answer or a document is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from service import svg

WORST = 10
_GROUP_TITLES = {
    "retrieval": "Retrieval (answerable questions whose passages can be judged)",
    "answers": "Answers (SQuAD 2.0 scoring: an abstention is the empty answer)",
    "key_points": "Key points (answerable questions that have them; an abstention covers none)",
    "answering": "Answering (an abstention or the model's own refusal declines a question)",
    "abstention": "Abstention (positive: the question is unanswerable)",
    "grounding": "Grounding",
    "judge": "LLM judge (RAGAS definitions)",
}
_BARS = (
    ("retrieval", "hit@5"), ("retrieval", "mrr@10"), ("retrieval", "ndcg@10"),
    ("answers", "f1"), ("answers", "has_ans_f1"), ("answers", "no_ans_f1"),
    ("answers", "contains_gold"), ("key_points", "all_covered"), ("key_points", "mean_recall"),
    ("answering", "answered_share"), ("abstention", "precision"), ("abstention", "recall"),
    ("grounding", "supported_sentences"), ("grounding", "citation_precision"),
)  # fmt: skip
_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; color: #111827; margin: 2rem auto; max-width: 980px;
       padding: 0 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
th, td { border: 1px solid #d1d5db; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failure { border: 1px solid #d1d5db; border-radius: 6px; padding: .6rem 1rem; margin: 1rem 0; }
.passage { background: #f9fafb; border-left: 3px solid #9ca3af; padding: .3rem .6rem;
           margin: .3rem 0; white-space: pre-wrap; font-size: 13px; }
.passage.relevant { border-left-color: #16a34a; }
.muted { color: #4b5563; }
"""


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def metric_rows(summary: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section title, [(metric, value)]) for every non-latency metric group."""
    metrics = summary["metrics"]
    sections = [("Counts", [(k, _value(v)) for k, v in metrics["counts"].items()])]
    for group, title in _GROUP_TITLES.items():
        values = metrics.get(group) or {}
        if any(v is not None for v in values.values()):  # e.g. no key points in SQuAD
            sections.append((title, [(k, _value(v)) for k, v in values.items()]))
    return sections


def latency_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [name, *(f"{cuts[q]:.0f}" for q in ("p50", "p95", "p99", "mean"))]
        for name, cuts in summary["metrics"]["latency"].items()
    ]


def _quality(row: dict[str, Any]) -> float | None:
    """F1 against the gold answers, else the share of key points made."""
    scores = row["scores"]
    value = scores.get("f1", scores.get("key_points"))
    return None if value is None else float(value)


def worst_answerable(rows: Sequence[dict[str, Any]], n: int = WORST) -> list[dict[str, Any]]:
    """Answerable questions with the lowest F1 (or key-point share); among equals, the most
    confident first."""
    scored = [
        r for r in rows if r["answerable"] and r.get("error") is None and _quality(r) is not None
    ]
    return sorted(scored, key=lambda r: (_quality(r), -(r["best_score"] or 0.0)))[:n]


def worst_unanswerable(rows: Sequence[dict[str, Any]], n: int = WORST // 2) -> list[dict[str, Any]]:
    """Unanswerable questions that were answered, the most confident first."""
    answered = [
        r for r in rows if not r["answerable"] and r.get("error") is None and not r["abstained"]
    ]
    return sorted(answered, key=lambda r: -(r["best_score"] or 0.0))[:n]


def _heading(summary: dict[str, Any]) -> list[tuple[str, str]]:
    data = summary["dataset"]
    sample = summary["sample"]
    drawn = f"{sample['limit']} drawn with seed {sample['seed']}" if sample["limit"] else "all"
    return [
        ("dataset", f"{data['name']} ({data['split']}), {data['path']}"),
        ("sha256", data["sha256"][:16]),
        (
            "questions",
            f"{data['questions']} in the set, {summary['metrics']['counts']['questions']} asked "
            f"({drawn})",
        ),
        ("target", f"{summary['target']}, collection {summary['collection'] or '(default)'}"),
        ("answer style", summary.get("style") or "explain"),
        ("git commit", summary.get("git_commit") or "unknown"),
        ("finished", summary.get("finished_at", "")),
    ]


def _gold(row: dict[str, Any]) -> str:
    if not row["answerable"]:
        return "(unanswerable)"
    gold = " / ".join(row["golds"])
    points = row.get("key_points") or []
    if points:
        missed = row.get("key_points_missed") or []
        made = f"missed: {'; '.join(missed)}" if missed else "all made"
        gold += f"{'; ' if gold else ''}key points: {'; '.join(points)} ({made})"
    return gold or "(no reference answer)"


def _scores_line(row: dict[str, Any]) -> str:
    scores = row["scores"]
    line = f"F1 {_value(scores.get('f1'))}"
    if "key_points" in scores:
        line += f", key points {_value(scores['key_points'])}"
    return line


def _passages_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    return row.get("cited") or [p for p in row.get("retrieved", []) if p.get("text")]


# -- markdown -----------------------------------------------------------------------------


def _md_table(head: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _md_failure(row: dict[str, Any]) -> str:
    answer = "(abstained)" if row["abstained"] else row["answer"]
    lines = [
        f"**{_md_cell(row['question'])}**  ",
        f"gold: {_md_cell(_gold(row))}  ",
        f"answer: {_md_cell(answer)}  ",
        f"mode {row['mode']}, best passage score {_value(row['best_score'])}, "
        f"{_scores_line(row)}; {_md_cell(row['reason'])}",
    ]
    for p in _passages_of(row)[:3]:
        mark = "relevant" if p["relevant"] else "not relevant"
        lines.append(f"> {p['source']} ({mark}): {_md_cell(p['text'][:300])}")
    return "\n".join(lines)


def markdown(summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> str:
    parts = ["# Syllabus evaluation", "", _md_table(("", ""), _heading(summary)), ""]
    config = summary.get("config") or {}
    if config:
        parts += ["## Configuration", "", _md_table(("setting", "value"), _config(config)), ""]
    for title, values in metric_rows(summary):
        parts += [f"## {title}", "", _md_table(("metric", "value"), values), ""]
    parts += ["## Latency (ms)", ""]
    parts += [_md_table(("", "p50", "p95", "p99", "mean"), latency_rows(summary)), ""]
    parts += ["## Worst answers to answerable questions", ""]
    parts += [_md_failure(r) + "\n" for r in worst_answerable(rows)]
    parts += ["## Unanswerable questions answered most confidently", ""]
    parts += [_md_failure(r) + "\n" for r in worst_unanswerable(rows)] or ["none\n"]
    return "\n".join(parts)


def _config(config: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, _value(v)) for k, v in config.items()]


# -- html ---------------------------------------------------------------------------------


def _html_table(head: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    thead = f"<thead><tr>{cells}</tr></thead>" if any(head) else ""
    rows = []
    for row in body:
        tds = "".join(
            f'<td class="num">{escape(c)}</td>' if _numeric(c) else f"<td>{escape(c)}</td>"
            for c in row
        )
        rows.append(f"<tr>{tds}</tr>")
    return f"<table>{thead}<tbody>{''.join(rows)}</tbody></table>"


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _html_failure(row: dict[str, Any]) -> str:
    answer = "(abstained)" if row["abstained"] else row["answer"]
    passages = "".join(
        f'<div class="passage{" relevant" if p["relevant"] else ""}">'
        f"<strong>{escape(p['source'])}</strong>"
        f"{' (relevant)' if p['relevant'] else ''}: {escape(p['text'][:400])}</div>"
        for p in _passages_of(row)[:3]
    )
    gold = _gold(row)
    return (
        f'<div class="failure"><p><strong>{escape(row["question"])}</strong></p>'
        f"<p>gold: {escape(gold)}<br>answer: {escape(answer)}</p>"
        f'<p class="muted">mode {escape(row["mode"])}, best passage score '
        f"{_value(row['best_score'])}, {escape(_scores_line(row))}; "
        f"{escape(row['reason'])}</p>{passages}</div>"
    )


def charts(summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> list[str]:
    """The report's SVG charts (empty ones left out)."""
    metrics = summary["metrics"]
    values = [(f"{g} {m}", metrics[g].get(m)) for g, m in _BARS if metrics.get(g)]
    shown = [(label, float(v)) for label, v in values if v is not None]
    answered = [r for r in rows if r.get("error") is None]
    totals = [r["timings"]["total_ms"] for r in answered if r["timings"].get("total_ms")]
    scores = {
        kind: [r["best_score"] for r in answered if r["answerable"] == flag and r["best_score"]]
        for kind, flag in (("answerable", True), ("unanswerable", False))
    }
    thresholds = [r["abstain_threshold"] for r in answered if r.get("abstain_threshold")]
    marker = ("abstain threshold", thresholds[0]) if thresholds else None
    found = [
        svg.bars(shown, title="Quality metrics") if shown else "",
        svg.histogram({"total": totals}, x_label="ms", title="Answer latency") if totals else "",
        svg.histogram(
            {k: v for k, v in scores.items() if v},
            marker=marker,
            x_label="best passage similarity",
            title="Retrieval scores of answerable and unanswerable questions",
        ),
    ]
    return [c for c in found if c]


def html(summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> str:
    data = summary["dataset"]
    title = f"Syllabus evaluation: {data['name']} ({data['split']})"
    body = [f"<h1>{escape(title)}</h1>", _html_table(("", ""), _heading(summary))]
    body += [f"<figure>{chart}</figure>" for chart in charts(summary, rows)]
    config = summary.get("config") or {}
    if config:
        body += ["<h2>Configuration</h2>", _html_table(("setting", "value"), _config(config))]
    for section, values in metric_rows(summary):
        body += [f"<h2>{escape(section)}</h2>", _html_table(("metric", "value"), values)]
    body += ["<h2>Latency (ms)</h2>"]
    body += [_html_table(("", "p50", "p95", "p99", "mean"), latency_rows(summary))]
    body += ["<h2>Worst answers to answerable questions</h2>"]
    body += [_html_failure(r) for r in worst_answerable(rows)]
    body += ["<h2>Unanswerable questions answered most confidently</h2>"]
    body += [_html_failure(r) for r in worst_unanswerable(rows)] or ["<p>none</p>"]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
