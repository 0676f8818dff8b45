"""Summaries of py-spy's collapsed stacks."""

from __future__ import annotations

from eval.bench.profile import PROJECT_ROOT, frame_name, markdown, read

RAW = [
    "<module> (service/cli.py:10);run (ingest/pipeline.py:40);embed (indexes/embedder.py:90) 30\n",
    "<module> (service/cli.py:10);run (ingest/pipeline.py:40);load (ingest/loaders.py:12) 10\n",
    "<module> (service/cli.py:10);idle (/usr/lib/python3.11/threading.py:300) 10\n",
    "garbage line\n",
]


def test_frames_are_named_by_short_path_and_function() -> None:
    site = "encode (/x/.venv/lib/python3.11/site-packages/onnxruntime/session.py:220)"
    assert frame_name(site) == "onnxruntime/session.py:encode"
    mine = f"run ({PROJECT_ROOT}/ingest/pipeline.py:40)"
    assert frame_name(mine) == "ingest/pipeline.py:run"


def test_own_and_inclusive_shares_add_up() -> None:
    profile = read(RAW)
    assert profile.samples == 50
    assert profile.own["indexes/embedder.py:embed"] == 30
    assert profile.inclusive["ingest/pipeline.py:run"] == 40
    table = markdown(profile, top=2)
    assert "| 60.0 | 60.0 | `indexes/embedder.py:embed` |" in table
    assert len(table.splitlines()) == 4 + 2  # header, blank, table head, rule, two rows


def test_match_keeps_only_stacks_through_a_frame() -> None:
    profile = read(RAW, match="pipeline.py:run")
    assert profile.samples == 40 and "threading.py:idle" not in profile.own
