"""The ``syllabus`` command line.  Only this boundary turns errors into messages."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from indexes import DataRoot, EmbedderUnavailable, IndexError_
from ingest import IngestReport, Pipeline
from ingest.watch import watch as watch_paths
from service.course import COURSE_FILE, CourseConfigInvalid, Courses, effective, parse_value
from service.schemas import SearchScope
from service.settings import Settings

# Subcommands of the packages above the service (``syllabus eval``), which it may not
# import: each package names its typer app in pyproject.toml under this group.
COMMANDS = "syllabus.commands"

app = typer.Typer(help="Syllabus: grounded answers from course materials.", no_args_is_help=True)
for _command in entry_points(group=COMMANDS):
    app.add_typer(_command.load(), name=_command.name)
out = Console()
err = Console(stderr=True)

CollectionOpt = Annotated[
    str | None, typer.Option("--collection", "-c", help="Collection name (default: 'default').")
]
IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="An index directory, instead of a collection.")
]

ScopeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        help="Search only part of the collection; repeat to combine: 'doc:ID-OR-SOURCE', "
        "'prefix:FOLDER/' or 'heading:Attention > Scaled Dot-Product Attention'.",
    ),
]


def _scope(parts: list[str] | None) -> dict[str, object] | None:
    """``--scope`` options as the API's scope object, or an error naming the bad one."""
    if not parts:
        return None
    scope: dict[str, Any] = {"documents": [], "heading_prefix": []}
    for part in parts:
        kind, _, value = part.partition(":")
        if kind == "doc" and value:
            scope["documents"].append(value)
        elif kind == "prefix" and value:
            scope["source_prefix"] = value
        elif kind == "heading" and value.strip():
            scope["heading_prefix"] = [h.strip() for h in value.split(">") if h.strip()]
        else:
            err.print(f"[bold red]error:[/] --scope {part!r}: use doc:, prefix: or heading:")
            raise typer.Exit(2)
    return scope


@contextmanager
def _errors_as_messages() -> Iterator[None]:
    try:
        yield
    except (IndexError_, EmbedderUnavailable, CourseConfigInvalid) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _settings() -> Settings:
    """The settings, or a message naming each invalid one (no keys are echoed)."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors(include_input=False):
            where = "_".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            err.print(f"[bold red]error:[/] {f'SYLLABUS_{where}: ' if where else ''}{message}")
        raise typer.Exit(2) from None


def _index_dir(settings: Settings, collection: str | None, index: Path | None) -> Path:
    if index is not None:
        return index
    return DataRoot(settings.data_dir).collection(settings.collection_for(collection)).path


class _Bar:
    """Adapts the pipeline's progress reports to a rich progress bar."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("ingesting", total=None)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)

    def advance(self, source: str) -> None:
        self._progress.update(self._task, advance=1, description=source[-48:])


def _summary(report: IngestReport) -> None:
    line = (
        f"added {len(report.added)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}, removed {len(report.removed)}, "
        f"failed {len(report.failed)}"
    )
    out.print(
        f"[bold]{line}[/]  ({report.chunks_embedded} chunks embedded in {report.seconds:.1f}s)"
    )
    for source in report.removed:
        out.print(f"  removed  {source}")
    for failure in report.failed:
        out.print(f"  [red]failed[/]   {failure.source}: {failure.reason}")
    if report.version is not None:
        out.print(f"published index version {report.version}")
    elif not report.failed:
        out.print("nothing changed; the index is as it was")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    collection: CollectionOpt = None,
    index: IndexOpt = None,
    wait: Annotated[
        float | None, typer.Option(help="Seconds to wait for another ingestion to finish.")
    ] = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when the index already exists.")
    ] = False,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Keep running: re-sync whenever files change (Ctrl-C stops)."),
    ] = False,
) -> None:
    """Ingest Markdown, text, HTML and PDF files into a collection's index."""
    settings = _settings()
    with _errors_as_messages():
        root = _index_dir(settings, collection, index)
        if if_missing and (root / "CURRENT").exists():
            out.print(f"{root} already has an index; skipping ingestion")
            return
        embedder = settings.embedder()
        pipeline = settings.pipeline(embedder)
        columns = (TextColumn("{task.description:<48}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())  # fmt: skip
        with Progress(*columns, console=err, transient=True) as progress:
            report = pipeline.run(
                paths,
                root,
                wait_seconds=settings.ingest_wait_seconds if wait is None else wait,
                progress=_Bar(progress),
            )
    _summary(report)
    if watch:
        _watch(pipeline, paths, root, settings.ingest_wait_seconds if wait is None else wait)
    elif report.failed:
        raise typer.Exit(1)


def _watch(pipeline: Pipeline, paths: list[Path], root: Path, wait: float) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        err.print(f"[bold red]error:[/] cannot watch what does not exist: {', '.join(missing)}")
        raise typer.Exit(2)
    out.print(f"watching {', '.join(map(str, paths))} for changes (Ctrl-C stops)")

    def failed(exc: IndexError_) -> None:
        err.print(f"[bold red]error:[/] {exc}; retrying at the next change")

    watch_paths(pipeline, paths, root, on_report=_summary, on_error=failed, wait_seconds=wait)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=100, help="Number of hits.")] = 5,
    collection: CollectionOpt = None,
    index: IndexOpt = None,
    scope: ScopeOpt = None,
) -> None:
    """Print the best passages for QUERY with their sources and scores."""
    settings = _settings()
    wanted = _scope(scope)
    limit = SearchScope.model_validate(wanted).to_scope() if wanted else None
    with _errors_as_messages():
        root = _index_dir(settings, collection, index)
        embedder = settings.embedder()
        reader = settings.reader(root, embedder)
        embedder.load()
        started = time.perf_counter()
        hits = reader.search(query, k, scope=limit)
        elapsed = (time.perf_counter() - started) * 1000
    if not hits:
        out.print("no passages found")
    for rank, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        where = " > ".join(chunk.heading_path) or chunk.title
        page = f", page {chunk.page}" if chunk.page is not None else ""
        lexical = f"{hit.lexical_score:.2f}" if hit.lexical_score is not None else "-"
        out.print(
            f"[bold]{rank}.[/] [cyan]{chunk.source}[/]{page}  [dim]{where}[/]\n"
            f"   fused {hit.score:.4f} | dense {hit.dense_score:.3f} | bm25 {lexical}"
            f"   [dim]{chunk.id}[/]"
        )
        snippet = chunk.text if len(chunk.text) <= 320 else chunk.text[:317] + "..."
        out.print(f"   {snippet}\n", highlight=False)
    err.print(f"[dim]{len(hits)} hits in {elapsed:.1f} ms (index version {reader.version})[/]")


collections_app = typer.Typer(help="The collections and their own settings.")
app.add_typer(collections_app, name="collections")


@collections_app.callback(invoke_without_command=True)
def list_collections(context: typer.Context) -> None:
    """List collections with their documents, chunks and last ingestion."""
    if context.invoked_subcommand is not None:
        return
    settings = _settings()
    with _errors_as_messages():
        found = [c.info() for c in DataRoot(settings.data_dir).collections()]
    if not found:
        out.print(f"no collections under {settings.data_dir}; run `syllabus ingest PATH`")
        return
    table = Table("collection", "documents", "chunks", "version", "last ingested")
    for info in found:
        table.add_row(info.name, str(info.documents), str(info.chunks), str(info.version),
                      info.last_ingested)  # fmt: skip
    out.print(table)


@collections_app.command("config")
def collection_config(
    name: Annotated[str, typer.Argument(help="The collection.")],
    changes: Annotated[
        list[str] | None,
        typer.Argument(
            help="KEY=VALUE to set (JSON values: 0.31, true, {...}); KEY= goes back to the "
            "global setting. None: show the settings."
        ),
    ] = None,
) -> None:
    """Show or change a collection's own settings (its course.json)."""
    settings = _settings()
    wanted: dict[str, object] = {}
    for change in changes or []:
        key, equals, value = change.partition("=")
        if not equals or not key.strip():
            err.print(f"[bold red]error:[/] {change!r}: use KEY=VALUE (KEY= to unset)")
            raise typer.Exit(2)
        wanted[key.strip()] = parse_value(value)
    with _errors_as_messages():
        folder = DataRoot(settings.data_dir).existing(name).path
        courses = Courses(settings.generator)
        config = courses.update(folder, wanted) if wanted else courses.config(folder)
    table = Table("setting", "value", "from")
    own = config.set_keys()
    for key, value in effective(settings, name, config).items():
        table.add_row(key, json.dumps(value), f"{name}/{COURSE_FILE}" if key in own else "global")
    out.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the HTTP API (and the chat widget) with uvicorn."""
    from service.app import create_app
    from service.web.server import serve as guarded

    settings = _settings()
    updates = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.model_copy(update=updates)
    # Our own INFO lines (what start-up cost, model loading) beside uvicorn's; others warn.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:     %(name)s: %(message)s")
    for package in ("service", "indexes", "ingest"):
        logging.getLogger(package).setLevel(logging.INFO)
    guarded(create_app(settings), settings)


@app.command("mcp")
def mcp_stdio() -> None:
    """Serve the course to an AI assistant over MCP on stdin/stdout.

    Tools search and ask, the collections as resources; the local user is trusted.

    Over HTTP, `syllabus serve` answers at /mcp, with the API's keys and limits.
    """
    import anyio

    from service.app import create_app
    from service.mcp_server import serve_stdio

    settings = _settings()
    # stdout carries the protocol: every log line goes to stderr, which clients keep.
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s: %(name)s: %(message)s"
    )
    logging.getLogger("service").setLevel(logging.INFO)
    with _errors_as_messages():
        anyio.run(serve_stdio, create_app(settings))


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    collection: CollectionOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=20, help="Passages to use.")] = 5,
    scope: ScopeOpt = None,
) -> None:
    """Answer QUESTION from a collection and print the answer with its sources."""
    import anyio
    import httpx

    from service.app import create_app, in_process

    settings = _settings()
    body: dict[str, object] = {
        "question": question,
        "top_k": k,
        "collection": settings.collection_for(collection),
    }
    if (wanted := _scope(scope)) is not None:
        body["scope"] = wanted

    async def post() -> httpx.Response:
        async with in_process(create_app(settings)) as http:
            return await http.post("/v1/ask", json=body)

    response = anyio.run(post)
    payload = response.json()
    if response.status_code != 200:
        err.print(f"[bold red]error:[/] {payload['error']['message']}")
        raise typer.Exit(2)
    out.print(f"[bold]{payload['answer']}[/]\n", highlight=False)
    out.print(f"[dim]mode: {payload['mode']} - {payload['grounding']['reason']}[/]")
    for cite in payload["citations"]:
        page = f", page {cite['page']}" if cite["page"] is not None else ""
        out.print(f"  [{cite['n']}] {cite['source']}{page} - {' > '.join(cite['heading_path'])}")


@app.command()
def insights(
    collection: Annotated[str, typer.Argument(help="The collection.")],
    since: Annotated[int, typer.Option(min=1, max=3650, help="Days back.")] = 30,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder (default: var/insights/COLLECTION).")
    ] = None,
) -> None:
    """Write what learners asked of a collection as a report (HTML, JSON, CSV)."""
    from service.insights_report import run_insights

    settings = _settings()
    folder = out_dir or Path("var") / "insights" / collection
    with _errors_as_messages():
        written = run_insights(settings, collection, since, folder)
    for path in written:
        out.print(str(path))


def main() -> None:  # pragma: no cover - console entry for `python -m service.cli`
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
