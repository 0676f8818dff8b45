"""Reading docker/Dockerfile and docker/compose.yaml the way Docker would, for the tests."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.paths import PROJECT

DOCKER = PROJECT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
# ${NAME}, ${NAME:-default}, ${NAME-default}: compose's interpolation.
VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int


def instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    stage, pending = -1, ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        pending += line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending:
            keyword, _, args = pending.partition(" ")
            stage += keyword.upper() == "FROM"
            found.append(Instruction(keyword.upper(), args.strip(), stage))
        pending = ""
    return found


def final_stage(path: Path = DOCKERFILE) -> list[Instruction]:
    every = instructions(path)
    return [i for i in every if i.stage == every[-1].stage]


def exec_form(args: str) -> list[str]:
    """The JSON array of an exec-form CMD, ENTRYPOINT or HEALTHCHECK CMD."""
    parsed = json.loads(args)
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed), args
    return parsed


def env(stage: list[Instruction]) -> dict[str, str]:
    """Variables set by the stage's ENV instructions (KEY=value form)."""
    values: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.args):
                key, _, value = pair.partition("=")
                values[key] = value
    return values


def healthcheck(stage: list[Instruction]) -> list[str]:
    (check,) = [i.args for i in stage if i.keyword == "HEALTHCHECK"]
    _, _, command = check.partition("CMD ")
    return exec_form(command)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def interpolate(value: str, variables: dict[str, str] | None = None) -> str:
    """``value`` as compose would see it with ``variables`` set (else the defaults)."""
    given = variables or {}
    return VARIABLE.sub(lambda m: given.get(m.group(1), m.group(2) or ""), value)
