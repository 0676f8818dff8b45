"""``syllabus eval run``: ask every question of a dataset, score it, write the reports.

The run goes through the service's HTTP API, in process or against ``--url``
(see :mod:`eval.target`).  Each answered question is appended to
``results.jsonl`` at once, so an interrupted run resumes where it stopped:
``run.json`` records what the run is (dataset and its hash, sample,
configuration) and a second run into the same folder continues it only if
that is unchanged.  Questions that failed are asked again on resumption.

Answers are asked for in a ``style``: ``short`` by default for SQuAD (whose
gold answers are spans), ``explain`` (the service's default) otherwise.

An external dataset's corpus is written to ``WORK/corpora/`` and ingested
through the normal pipeline into a collection under ``WORK/collections/``
(kept, so later runs reuse it); a JSONL dataset is asked about an existing
collection.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from eval import datasets, run_report
from eval.datasets import Dataset, Item
from eval.judge import Judge
from eval.provenance import code_version, git_commit
from eval.scoring import Observation, failed, score, summarise
from eval.target import Style, Target, TargetError
from indexes import DataRoot, SentenceTransformerEmbedder
from indexes.manifest import read_manifest
from indexes.versions import VersionedDir
from service.generation.base import Generator
from service.generation.factory import build_generator
from service.settings import Settings
from service.text import strip_citations

log = logging.getLogger(__name__)

RESULTS, RUN, SUMMARY = "results.jsonl", "run.json", "summary.json"
_CONFIG_KEYS = (
    "answer_strategy", "abstain_threshold", "support_threshold", "min_supported_ratio",
    "max_answer_tokens", "chunk_tokens", "overlap_tokens", "dense_weight", "lexical_weight",
    "rrf_k", "search_candidates", "generator", "model_path", "openai_base_url", "openai_model",
    "embedding_model", "n_ctx",
)  # fmt: skip


class RunError(RuntimeError):
    """The run cannot go on; the message says why and what to do."""


class Progress(Protocol):
    def start(self, total: int, done: int) -> None: ...

    def advance(self, item_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RunOptions:
    dataset: str
    out: Path
    split: str = "dev"
    limit: int | None = None
    seed: int = 0
    url: str | None = None
    collection: str | None = None
    top_k: int = 5
    judge: bool = False
    work_dir: Path = Path("var/eval")
    timeout: float = 120.0
    style: Style | None = None  # None: the dataset's default (see answer_style)
    per_document: bool = False  # scope each question to its own document


@dataclass
class _Session:
    target: Target
    index: dict[str, Any]
    judge: Judge | None = None
    config: dict[str, Any] = field(default_factory=dict)


def service_config(settings: Settings) -> dict[str, Any]:
    """The settings that shape answers, as recorded with a run."""
    dumped = settings.model_dump(mode="json", include=set(_CONFIG_KEYS))
    return {key: dumped[key] for key in _CONFIG_KEYS}


def answer_style(options: RunOptions, dataset: Dataset) -> Style:
    """The style asked for: the option, else ``short`` for SQuAD's span answers."""
    if options.style is not None:
        return options.style
    return "short" if dataset.name == "squad" else "explain"


def identity(options: RunOptions, dataset: Dataset, settings: Settings) -> dict[str, Any]:
    """What makes two runs the same run: resuming requires it unchanged."""
    return {
        "dataset": dataset.describe(),
        "sample": {"limit": options.limit, "seed": options.seed},
        "target": options.url or "in-process",
        "collection": options.collection,
        "top_k": options.top_k,
        "style": answer_style(options, dataset),
        "judge": options.judge,
        "scope": "per-document" if options.per_document else None,
        "config": None if options.url else service_config(settings),
    }


def question_scope(options: RunOptions, dataset: Dataset, item: Item) -> dict[str, Any] | None:
    """With ``per_document``, the scope of the question's own document: its source in the
    corpus folder the dataset is ingested from (``scientific-qa-all/paper-07.txt``)."""
    if not options.per_document:
        return None
    if item.document is None:
        raise RunError(f"--scope-per-document: question {item.id} names no document")
    return {"documents": [f"{dataset.name}-{dataset.split}/{item.document}"]}


def _check_resumable(out: Path, wanted: dict[str, Any]) -> None:
    path = out / RUN
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved != wanted:
            differing = sorted(k for k in wanted if saved.get(k) != wanted[k])
            raise RunError(
                f"{out} holds a different run ({', '.join(differing)} differ); "
                "use another --out folder, or remove this one"
            )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")


def read_results(path: Path) -> list[dict[str, Any]]:
    """Rows already written; a line cut short by an interruption is dropped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("dropping an incomplete line of %s", path)
    return rows


def _kept_results(path: Path) -> dict[str, dict[str, Any]]:
    """Answered rows by id; failed or cut-off rows are removed so they run again."""
    kept = {r["id"]: r for r in read_results(path) if r.get("error") is None}
    path.write_text("".join(json.dumps(r) + "\n" for r in kept.values()), encoding="utf-8")
    return kept


def write_corpus(dataset: Dataset, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in dataset.corpus.items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def prepare_collection(
    dataset: Dataset, work_dir: Path, settings: Settings, embedder: SentenceTransformerEmbedder
) -> str:
    """Ingest the dataset's corpus (a no-op when the kept collection is current)."""
    params = settings.chunker()
    name = (
        f"{dataset.name}-{dataset.split}-c{params.chunk_tokens}-o{params.overlap_tokens}"
        f"-{code_version()}"
    )
    corpus = work_dir / "corpora" / f"{dataset.name}-{dataset.split}"
    write_corpus(dataset, corpus)
    root = DataRoot(work_dir / "collections").collection(name).path
    pipeline = settings.pipeline(embedder, params)
    report = pipeline.run([corpus], root, wait_seconds=settings.ingest_wait_seconds)
    if report.failed:
        reasons = "; ".join(f"{f.source}: {f.reason}" for f in report.failed)
        raise RunError(f"the dataset's corpus did not ingest: {reasons}")
    return name


def _manifest(data_dir: Path, collection: str) -> dict[str, Any]:
    manifest = read_manifest(VersionedDir(data_dir / collection).current_dir()).model_dump()
    manifest.pop("documents")  # per-file hashes: the dataset's hash is recorded instead
    return dict(manifest)


@asynccontextmanager
async def _in_process(
    options: RunOptions, dataset: Dataset, settings: Settings
) -> AsyncIterator[_Session]:
    from service.app import create_app, in_process
    from service.components import components_of

    embedder = settings.embedder()
    embedder.load()
    collection = settings.collection_for(options.collection)
    if dataset.corpus:
        collection = prepare_collection(dataset, options.work_dir, settings, embedder)
        data_dir = options.work_dir / "collections"
        settings = settings.model_copy(update={"data_dir": data_dir, "collection": collection})
    app = create_app(settings, embedder=embedder)
    async with in_process(app, options.timeout) as http:
        target = Target(http, collection, streamed=False, style=answer_style(options, dataset))
        judge = Judge(components_of(app).generator, embedder) if options.judge else None
        index = _manifest(settings.data_dir, collection) | await target.describe()
        config = service_config(settings) | {"style": target.style}
        yield _Session(target, index, judge, config)


@asynccontextmanager
async def _remote(
    options: RunOptions, dataset: Dataset, settings: Settings
) -> AsyncIterator[_Session]:
    assert options.url is not None
    collection = options.collection or (
        f"{dataset.name}-{dataset.split}" if dataset.corpus else settings.collection
    )
    generator: Generator | None = None
    async with httpx.AsyncClient(base_url=options.url, timeout=options.timeout) as http:
        target = Target(http, collection, streamed=True, style=answer_style(options, dataset))
        try:
            index = await target.describe()
        except httpx.TransportError as exc:
            raise RunError(f"no service answers at {options.url}: {exc}") from None
        except TargetError as exc:
            raise RunError(str(exc)) from None
        judge = None
        if options.judge:
            embedder = settings.embedder()
            generator = build_generator(settings)
            judge = Judge(generator, embedder)
        try:
            yield _Session(target, index, judge, {"url": options.url, "style": target.style})
        finally:
            if generator is not None:
                await generator.aclose()


async def _judged(session: _Session, item: Item, seen: Observation) -> Observation:
    if session.judge is None or seen.abstained:
        return seen
    passages = [p.text for p in seen.cited] or [p.text for p in seen.retrieved[:3]]
    scores = await session.judge.score(item.question, strip_citations(seen.answer), passages)
    return Observation(**{**_fields(seen), "judge": scores})


def _fields(seen: Observation) -> dict[str, Any]:
    return {name: getattr(seen, name) for name in Observation.__dataclass_fields__}


async def _ask_all(
    session: _Session,
    items: Sequence[Item],
    results: Path,
    options: RunOptions,
    dataset: Dataset,
    progress: Progress,
) -> None:
    with results.open("a", encoding="utf-8") as sink:
        for item in items:
            scope = question_scope(options, dataset, item)
            try:
                seen = await session.target.observe(
                    item.question, options.top_k, item.history, scope
                )
                row = score(item, await _judged(session, item, seen))
            except TargetError as exc:
                log.warning("question %s failed: %s", item.id, exc)
                row = failed(item, str(exc))
            except httpx.TransportError as exc:
                raise RunError(
                    f"lost the service ({exc}); run the same command again to resume"
                ) from None
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            progress.advance(item.id)


async def run(options: RunOptions, settings: Settings, progress: Progress) -> dict[str, Any]:
    """Answer what is left of the run, then write ``summary.json`` and the reports."""
    started = time.perf_counter()
    dataset = datasets.load(options.dataset, options.split)
    items = datasets.sample(dataset.items, options.limit, options.seed)
    wanted = identity(options, dataset, settings)
    _check_resumable(options.out, wanted)
    results = options.out / RESULTS
    done = _kept_results(results)
    pending = [i for i in items if i.id not in done]
    opened = _remote if options.url else _in_process
    async with opened(options, dataset, settings) as session:
        progress.start(len(items), len(items) - len(pending))
        await _ask_all(session, pending, results, options, dataset, progress)
        rows = _in_order(read_results(results), items)
        summary = {
            **wanted,
            "config": session.config,
            "index": session.index,
            "git_commit": git_commit(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds_this_session": round(time.perf_counter() - started, 1),
            "metrics": summarise(rows),
        }
    write_reports(options.out, summary, rows)
    return summary


def _in_order(rows: list[dict[str, Any]], items: Sequence[Item]) -> list[dict[str, Any]]:
    by_id = {r["id"]: r for r in rows}
    return [by_id[i.id] for i in items if i.id in by_id]


def write_reports(out: Path, summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> None:
    (out / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(run_report.markdown(summary, rows), encoding="utf-8")
    (out / "report.html").write_text(run_report.html(summary, rows), encoding="utf-8")
