"""docker/compose.yaml, checked as compose would read it, without an engine: its profiles,
services, healthchecks, volumes and variables, and its commands run for real. The `cpu`
profile brought up in Docker is tests/docker/test_image.py (`make image-test`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from indexes import IndexReader
from ingest import IngestReport
from service.settings import Settings
from tests.docker.files import (
    COMPOSE,
    DOCKER,
    DOCKERFILE,
    VARIABLE,
    compose,
    env,
    exec_form,
    final_stage,
    interpolate,
)
from tests.paths import PROJECT

PROFILES = {"cpu", "vllm", "llamacpp"}
IMAGE_ENV = env(final_stage())
DATA_DIR = IMAGE_ENV["SYLLABUS_DATA_DIR"]
(IMAGE_CMD,) = [exec_form(i.args) for i in final_stage() if i.keyword == "CMD"]


def _services(profile: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if profile in s.get("profiles", [])}


def _api(profile: str) -> dict[str, Any]:
    """The one Syllabus API service of a profile: our image, serving."""
    (api,) = [
        s for s in _services(profile).values() if "build" in s and s.get("command") == IMAGE_CMD
    ]
    return api


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Container path -> (source, mode) of a service's short-syntax volumes."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *mode = interpolate(volume).split(":")
        found[target] = (source, mode[0] if mode else "rw")
    return found


def _environment(service: dict[str, Any]) -> dict[str, str]:
    return {k: interpolate(str(v)) for k, v in service.get("environment", {}).items()}


def test_every_service_belongs_to_the_three_profiles() -> None:
    services = compose()["services"]
    used = {p for s in services.values() for p in s.get("profiles", [])}
    assert used == PROFILES
    assert all(s.get("profiles") for s in services.values())


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_each_profile_builds_ingests_and_serves_the_image(profile: str) -> None:
    api = _api(profile)
    build = api["build"]
    assert (DOCKER / build["context"]).resolve() == PROJECT
    assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert [p.split(":")[-1] for p in api["ports"]] == [IMAGE_ENV["SYLLABUS_PORT"]]
    assert "healthcheck" not in api  # the image's own: GET /readyz

    ingest = _services(profile)["ingest"]
    assert ingest["build"] == build and ingest["command"][0] == "ingest"
    assert api["depends_on"]["ingest"]["condition"] == "service_completed_successfully"
    volume, mode = _mounts(ingest)[DATA_DIR]
    assert mode == "rw" and volume in compose()["volumes"]
    # The replicas only read the index that ingestion writes.
    assert _mounts(api)[DATA_DIR] == (volume, "ro")


def test_the_cpu_profile_runs_the_embedded_model() -> None:
    assert _environment(_api("cpu"))["SYLLABUS_GENERATOR"] == "embedded"


def _remote(profile: str, server: str) -> tuple[dict[str, str], dict[str, Any]]:
    api = _api(profile)
    variables = _environment(api)
    assert variables["SYLLABUS_GENERATOR"] == "openai"
    assert api["depends_on"][server]["condition"] == "service_healthy"
    return variables, compose()["services"][server]


def test_the_vllm_profile_points_syllabus_at_vllm_on_a_gpu() -> None:
    variables, vllm = _remote("vllm", "vllm")
    assert vllm["image"].startswith("vllm/vllm-openai:")
    url = urlsplit(variables["SYLLABUS_OPENAI_BASE_URL"])
    assert (url.hostname, url.path) == ("vllm", "/v1")
    # The image's entrypoint is `vllm serve MODEL`; Syllabus must ask for that model.
    assert interpolate(vllm["command"][0]) == variables["SYLLABUS_OPENAI_MODEL"]
    assert "VLLM_MODEL" in vllm["command"][0]
    (gpu,) = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    probe = " ".join(vllm["healthcheck"]["test"])
    assert f"127.0.0.1:{url.port}/health" in probe
    assert _mounts(vllm)["/root/.cache/huggingface"][0] in compose()["volumes"]
    assert variables["SYLLABUS_ANSWER_STRATEGY"] == "auto"


def test_the_llamacpp_profile_points_syllabus_at_llama_cpp_server() -> None:
    variables, server = _remote("llamacpp", "llamacpp")
    assert server["image"].startswith("ghcr.io/ggml-org/llama.cpp:")
    flags = [interpolate(arg) for arg in server["command"]]
    option = dict(zip(flags[::2], flags[1::2], strict=True))
    url = urlsplit(variables["SYLLABUS_OPENAI_BASE_URL"])
    assert (url.hostname, str(url.port), url.path) == ("llamacpp", option["--port"], "/v1")
    assert variables["SYLLABUS_OPENAI_MODEL"] == option["--alias"]
    model = Path(option["--model"])
    assert str(model.parent) in _mounts(server)
    assert f"127.0.0.1:{url.port}/health" in " ".join(server["healthcheck"]["test"])


def test_syllabus_variables_are_settings_that_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    for profile in sorted(PROFILES):
        for name, value in _environment(_api(profile)).items():
            assert name.removeprefix("SYLLABUS_").lower() in Settings.model_fields, name
            monkeypatch.setenv(name, value)
        Settings()


def test_every_compose_variable_has_a_default_and_is_documented() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    used = {m.group(1) for m in VARIABLE.finditer(text)}
    assert all(":-" in m.group(0) for m in VARIABLE.finditer(text))
    assert [v for v in sorted(used) if f"| `{v}` |" not in readme] == []


@pytest.mark.integration
def test_the_ingest_command_runs_with_the_real_cli(
    demo_index: tuple[IndexReader, IngestReport], tmp_path: Path
) -> None:
    ingest = compose()["services"]["ingest"]
    shutil.copytree(demo_index[0].root, tmp_path / "data" / "default")
    # Mount sources as compose resolves them, relative to docker/.
    sources = {
        target: (DOCKER / source).resolve() for target, (source, _) in _mounts(ingest).items()
    }
    command = [interpolate(arg) for arg in ingest["command"]]
    assert sources[command[1]] == PROJECT / "corpus"  # the demo notes, unless CORPUS_DIR is set
    args = [str(sources.get(arg, arg)) for arg in command]
    result = subprocess.run(
        [str(Path(sys.executable).with_name("syllabus")), *args],
        env={**os.environ, "SYLLABUS_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "nothing changed" in result.stdout
