"""Where a figure came from: the git commit, the code's hash, the data's hash, the report.

Every benchmark and evaluation run records these, so that a number in BENCHMARKS.md
can be traced back to what produced it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from service.paths import PROJECT_ROOT


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_report(report: dict[str, Any], text: str, out: Path) -> None:
    """The JSON report at ``out`` and its markdown beside it (``.md``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(text + "\n", encoding="utf-8")


def git_commit() -> str | None:
    """HEAD of the project, with ``+dirty`` when the work tree has changes."""
    try:
        head = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}+dirty" if dirty else head


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def code_version() -> str:
    """A short hash of the ingestion and index code, so a changed chunker misses the cache.

    (The pipeline skips files whose content is unchanged, whatever code chunked them.)
    """
    digest = hashlib.sha256()
    for package in ("ingest", "indexes"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:8]
