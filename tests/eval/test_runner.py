"""What a run asks for: the answer style, by dataset unless chosen, recorded in its identity."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval.datasets import Dataset, Item
from eval.runner import RunOptions, answer_style, identity
from eval.target import Style
from service.cli import app
from service.settings import Settings


def dataset(name: str, tmp_path: Path) -> Dataset:
    path = tmp_path / f"{name}.jsonl"
    path.write_text('{"question": "q"}\n', encoding="utf-8")
    return Dataset(name, path, "dev", [Item("1", "q")])


@pytest.mark.parametrize(
    ("name", "chosen", "style"),
    [("squad", None, "short"), ("learner-dev", None, "explain"), ("squad", "explain", "explain")],
)
def test_style_defaults_to_short_for_squad_only(
    tmp_path: Path, name: str, chosen: Style | None, style: Style
) -> None:
    options = RunOptions(dataset=name, out=tmp_path, style=chosen)
    assert answer_style(options, dataset(name, tmp_path)) == style


def test_the_style_is_part_of_what_makes_a_run(tmp_path: Path) -> None:
    data = dataset("learner-dev", tmp_path)
    explain = identity(RunOptions(dataset="x", out=tmp_path), data, Settings())
    short = identity(RunOptions(dataset="x", out=tmp_path, style="short"), data, Settings())
    assert (explain["style"], short["style"]) == ("explain", "short")
    assert {k for k in explain if explain[k] != short[k]} == {"style"}  # so resuming refuses


def test_an_unknown_style_is_refused_before_anything_runs(tmp_path: Path) -> None:
    args = ["eval", "run", "squad", "--out", str(tmp_path / "run"), "--style", "long"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    text = re.sub(r"[\s│]+", " ", result.output)  # unwrapped from rich's error box
    assert "'long' is not one of 'explain', 'short'" in text
    assert not (tmp_path / "run").exists()
