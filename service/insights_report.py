"""The insights as files a course lead opens: ``insights.html``, ``insights.json`` and CSV.

The page is self-contained (inline CSS and SVG charts, no script, nothing fetched) and
its Content-Security-Policy forbids anything else. Everything learners or documents
wrote (questions, answers, comments, titles, sources) is HTML-escaped, and a CSV cell
that a spreadsheet would read as a formula is prefixed with ``'``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from indexes import DataRoot
from service import svg
from service.feedback import AnswerJournal
from service.insights import Insights, Topic, gather
from service.settings import Settings

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; color: #111827; margin: 2rem auto; max-width: 1040px;
       padding: 0 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; width: 100%; }
th, td { border: 1px solid #d1d5db; padding: .25rem .6rem; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f3f4f6; }
td.n { text-align: right; white-space: nowrap; }
td.when { white-space: nowrap; }
td.wide { min-width: 11rem; }
.figures td:first-child { font-weight: 600; width: 16rem; }
.answer { white-space: pre-wrap; max-height: 12rem; overflow: auto; }
ul { margin: 0; padding-left: 1.2rem; }
figure { margin: 1rem 0; }
.muted { color: #6b7280; }
"""
# The page runs nothing and loads nothing: only the inline style block, by its hash.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


def write_report(insights: Insights, out_dir: Path) -> list[Path]:
    """Write the page, the JSON and the CSV files into ``out_dir``; their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "insights.html"
    page.write_text(html_page(insights), encoding="utf-8")
    data = out_dir / "insights.json"
    data.write_text(insights.model_dump_json(indent=2), encoding="utf-8")
    tables = {
        "questions_per_day.csv": _per_day_rows(insights),
        "topics.csv": _topic_rows(insights),
        "unhelpful.csv": _unhelpful_rows(insights),
        "cited.csv": _cited_rows(insights),
    }
    written = [page, data]
    for name, rows in tables.items():
        written.append(_write_csv(out_dir / name, rows))
    return written


def run_insights(
    settings: Settings, collection: str, since_days: float, out_dir: Path
) -> list[Path]:
    """``syllabus insights``: gather a collection's insights and write the report.

    The embedding model loads only if there are questions to group into topics. Index
    errors (an unknown collection, a mismatched embedder) are raised for the CLI to word.
    """
    embedder = settings.embedder()
    path = DataRoot(settings.data_dir).existing(collection).path
    reader = settings.reader(path, embedder)
    journal = AnswerJournal()
    try:
        insights = gather(journal, reader.root, embedder, reader.documents(), since_days)
    finally:
        journal.close()
    return write_report(insights, out_dir)


def neutral(cell: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula (text only; numbers are kept)."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def _write_csv(path: Path, rows: Iterable[Sequence[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerows([neutral(cell) for cell in row] for row in rows)
    return path


def _per_day_rows(insights: Insights) -> list[Sequence[object]]:
    return [("day", "questions"), *((d.day.isoformat(), d.questions) for d in insights.per_day)]


def _topic_rows(insights: Insights) -> list[Sequence[object]]:
    rows: list[Sequence[object]] = [
        ("topic", "label", "size", "abstained", "question", "representative")
    ]
    for n, topic in enumerate(insights.topics, 1):
        for question in topic.questions:
            shown = "yes" if question in topic.representatives else "no"
            rows.append((n, topic.label, topic.size, topic.abstained, question, shown))
    return rows


def _unhelpful_rows(insights: Insights) -> list[Sequence[object]]:
    rows: list[Sequence[object]] = [
        ("asked_at", "question", "answer", "comment", "mode", "sources")
    ]
    for a in insights.unhelpful_answers:
        rows.append(
            (_time(a.asked_at), a.question, a.answer, a.comment or "", a.mode, "; ".join(a.sources))
        )
    return rows


def _cited_rows(insights: Insights) -> list[Sequence[object]]:
    rows: list[Sequence[object]] = [("kind", "source", "title", "section", "count")]
    rows += [("document", c.source, c.title, "", c.count) for c in insights.cited_documents]
    rows += [("section", c.source, c.title, c.section, c.count) for c in insights.cited_sections]
    rows += [("never cited", d.source, d.title, "", 0) for d in insights.never_cited]
    return rows


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    """A table of cells that are already HTML; ``empty`` (text) when there are no rows."""
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{escape(empty)}</p>'
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: object, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<td{attribute}>{escape(str(text))}</td>"


def _list(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _figures(i: Insights) -> str:
    rows = [
        ("Period", f"{_time(i.since)} to {_time(i.until)} ({i.days:g} days)"),
        ("Questions", str(i.questions)),
        ("Answered", str(i.answered)),
        ("Abstained", str(i.abstained)),
        ("Answered with low confidence", str(i.low_confidence)),
        ("Rated helpful / unhelpful", f"{i.helpful} / {i.unhelpful}"),
        (
            "Latency: median / 90th percentile",
            f"{_ms(i.latency_median_ms)} / {_ms(i.latency_p90_ms)}",
        ),
    ]
    body = "".join(f"<tr>{_td(name)}{_td(value)}</tr>" for name, value in rows)
    return f'<table class="figures"><tbody>{body}</tbody></table>'


def _charts(i: Insights) -> str:
    per_day = [(d.day.isoformat(), d.questions) for d in i.per_day]
    charts = [
        svg.columns(per_day, title="Questions per day (UTC)"),
        svg.tallies(list(i.modes.items()), title="How questions were answered"),
    ]
    return "".join(f"<figure>{chart}</figure>" for chart in charts if chart and per_day)


def _topic_row(n: int, topic: Topic) -> list[str]:
    others = [q for q in topic.questions if q not in topic.representatives]
    every = (
        f"<details><summary>{len(others)} more</summary>{_list(others)}</details>" if others else ""
    )
    return [
        _td(n, "n"),
        _td(topic.label),
        _td(topic.size, "n"),
        _td(topic.abstained, "n"),
        f"<td>{_list(topic.representatives)}{every}</td>",
    ]


def _missed(i: Insights) -> str:
    rows = [_topic_row(n, t) for n, t in enumerate(i.topics, 1)]
    head = ("#", "Topic", "Questions", "Abstained", "Representative questions")
    return _table(head, rows, "No question went unanswered or was answered with low confidence.")


def _unhelpful(i: Insights) -> str:
    rows = [
        [
            _td(_time(a.asked_at), "when"),
            _td(a.question, "wide"),
            f'<td><div class="answer">{escape(a.answer)}</div></td>',
            _td(a.comment or "—", "wide"),
            f'<td class="wide">{_list(a.sources)}</td>',
        ]
        for a in i.unhelpful_answers
    ]
    head = ("Asked", "Question", "Answer", "Comment", "Cited sources")
    return _table(head, rows, "No answer was rated unhelpful.")


def _cited(i: Insights) -> str:
    documents = [[_td(c.title), _td(c.source), _td(c.count, "n")] for c in i.cited_documents]
    sections = [
        [_td(c.title), _td(c.section or "—"), _td(c.source), _td(c.count, "n")]
        for c in i.cited_sections
    ]
    never = [[_td(d.title), _td(d.source)] for d in i.never_cited]
    return (
        "<h3>Documents cited most</h3>"
        + _table(("Title", "Source", "Answers"), documents, "No answer cited a document.")
        + "<h3>Sections cited most</h3>"
        + _table(("Title", "Section", "Source", "Answers"), sections, "No answer cited a section.")
        + "<h3>Documents never cited</h3>"
        + _table(("Title", "Source"), never, "Every document was cited at least once.")
    )


def html_page(insights: Insights) -> str:
    """The report page: every text from learners and documents escaped."""
    title = f"What learners asked: {insights.collection}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f"<section><h2>In figures</h2>{_figures(insights)}{_charts(insights)}</section>"
        "<section><h2>What the materials miss</h2>"
        '<p class="muted">Questions Syllabus abstained on or answered with low confidence, '
        f"grouped by topic.</p>{_missed(insights)}</section>"
        f"<section><h2>Answers rated unhelpful</h2>{_unhelpful(insights)}</section>"
        f"<section><h2>What was cited</h2>{_cited(insights)}</section>"
        "</body></html>"
    )
