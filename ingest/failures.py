"""Files that failed to ingest, remembered by content hash (``failures.json``).

A file that cannot be ingested (corrupt, or a poison that overran the parse budget)
would otherwise be parsed again by every later run, and a poison costs the whole
budget each time.  The pipeline records each failure beside the index's versions,
with the file's SHA-256 and the reason, and passes the file over while its content is
unchanged, reporting the remembered reason.  A file that failed by running out of
budget is tried again under a larger one.  The record follows the files as documents
do: a failed file that is deleted, or forgotten through the API, leaves it.

The service lists these files with the documents (``GET /v1/documents``) under the id
they would have as a document, so that ``DELETE`` removes them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from indexes.files import write_atomically
from ingest.documents import document_id
from ingest.parsing import ParseBudget

log = logging.getLogger(__name__)

FAILURES_NAME = "failures.json"


@dataclass(frozen=True, slots=True)
class FailedFile:
    """One file that failed: where it is, what its content was, and why."""

    path: str
    source: str
    root: str
    sha256: str
    reason: str
    failed_at: str
    budget: ParseBudget | None = None  # the budget it ran out of, when that was why

    @property
    def doc_id(self) -> str:
        return document_id(self.path)

    def still_fails(self, sha256: str, budget: ParseBudget | None) -> bool:
        """Whether parsing the file again is wasted: the same content, and, if it ran out
        of budget, no larger budget now (``None``: unlimited)."""
        if sha256 != self.sha256:
            return False
        return self.budget is None or (budget is not None and not budget.exceeds(self.budget))


def _from_json(item: dict[str, Any]) -> FailedFile:
    budget = item.get("budget")
    return FailedFile(
        path=str(item["path"]),
        source=str(item["source"]),
        root=str(item["root"]),
        sha256=str(item["sha256"]),
        reason=str(item["reason"]),
        failed_at=str(item["failed_at"]),
        budget=ParseBudget(float(budget["seconds"]), int(budget["memory_mb"])) if budget else None,
    )


def read_failures(index_root: Path) -> dict[str, FailedFile]:
    """The remembered failures of the index at ``index_root``, by path; none if the record
    is missing, and none (with a warning) if it cannot be read: then files are tried again."""
    try:
        found = json.loads((index_root / FAILURES_NAME).read_text(encoding="utf-8"))
        failures = [_from_json(item) for item in found["files"]]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s in %s cannot be read (%s): failed files will be tried again",
                    FAILURES_NAME, index_root, exc)  # fmt: skip
        return {}
    return {failure.path: failure for failure in failures}


def write_failures(index_root: Path, failures: Mapping[str, FailedFile]) -> None:
    """Replace the record atomically (and durably) with ``failures``."""
    files = [asdict(failures[path]) for path in sorted(failures)]
    write_atomically(index_root / FAILURES_NAME, json.dumps({"files": files}, indent=1) + "\n")


def settled(
    before: Mapping[str, FailedFile],
    failing: Mapping[str, FailedFile],
    read: Collection[str],
    roots: Collection[str],
    forget: Collection[str],
    skip: Collection[str],
) -> dict[str, FailedFile]:
    """The record after a run: the files ``failing`` now, and those of ``before`` that the
    run did not read, unless forgotten, skipped, or gone from a folder the run synced."""
    kept = {
        path: failure
        for path, failure in before.items()
        if path not in read
        and path not in forget
        and path not in skip
        and not (failure.root in roots and not Path(path).exists())
    }
    return kept | dict(failing)
