"""Where the tests find the project, ../shared and the demo corpus."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"
DEMO_CORPUS = PROJECT / "corpus"
