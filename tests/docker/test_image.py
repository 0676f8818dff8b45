"""The image built and run for real (`make image-test`, after `make test` in CI): the demo
notes ingested into a volume, served from it read-only by the image's own user on a network
with no way out, healthy by its own healthcheck, and a question asked from the host answered
with citations; then the compose `cpu` profile answering the same question.  The figures
(build time, image size, cold start to healthy) go to var/bench/image.json."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.docker.engine import DOCKER, Built, base_image, build, docker, engine, inspect
from tests.paths import DEMO_CORPUS, PROJECT
from tests.servers import free_port

pytestmark = pytest.mark.image

TAG = "syllabus:latest"
NAME = "syllabus-image-test"
QUESTION = "Why is attention scaled by the square root of d_k?"
FIGURES = PROJECT / "var" / "bench" / "image.json"
# The image's user (docker/Dockerfile, useradd --uid).
IMAGE_UID = "10001"


@pytest.fixture(scope="module")
def figures() -> Iterator[dict[str, Any]]:
    found: dict[str, Any] = {}
    yield found
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    print(f"\n{FIGURES}: {json.dumps(found)}")


@pytest.fixture(scope="module")
def image(figures: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    logs = tmp_path_factory.mktemp("docker")
    with engine(logs / "dockerd.log"):
        started = time.monotonic()
        base = base_image()
        figures["base_image"] = base
        figures["base_seconds"] = round(time.monotonic() - started, 1)
        built = build(TAG, base, logs / "build.log")
        figures["build_seconds"] = round(built.seconds, 1)
        figures["image_bytes"] = built.size_bytes
        yield built


def _cleanup() -> None:
    docker("rm", "-f", NAME, check=False)
    docker("network", "rm", NAME, check=False)
    docker("volume", "rm", "-f", NAME, check=False)


@pytest.fixture
def offline_network(image: Built) -> Iterator[str]:
    """A network with no route out (`--internal`): the host reaches the container, the
    container reaches nothing beyond it."""
    _cleanup()
    docker("network", "create", "--internal", NAME)
    try:
        yield NAME
    finally:
        _cleanup()


def _wait_healthy(container: str, deadline_s: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        state: Any = inspect(container)["State"]
        if state["Health"]["Status"] == "healthy":
            return time.monotonic() - started
        if not state["Running"]:
            raise AssertionError(docker("logs", container, check=False))
        time.sleep(0.5)
    raise AssertionError(f"not healthy after {deadline_s} s:\n{docker('logs', container)}")


def _ask(base_url: str) -> dict[str, Any]:
    answer = httpx.post(f"{base_url}/v1/ask", json={"question": QUESTION}, timeout=180)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _assert_cited_from_the_notes(body: dict[str, Any]) -> None:
    assert body["mode"] != "abstained", body
    notes = {p.name for p in DEMO_CORPUS.iterdir()}
    cited = {Path(c["source"]).name for c in body["citations"]}
    assert cited and cited <= notes, body["citations"]
    assert "attention.md" in cited
    assert any(f"[{c['n']}]" in body["answer"] for c in body["citations"]), body["answer"]


def test_the_image_serves_the_notes_read_only_as_its_user_without_network(
    offline_network: str, image: Built, figures: dict[str, Any]
) -> None:
    # Ingestion alone writes the volume, and needs no network either.
    ingest = docker(
        "run", "--rm", "--network", "none", "-v", f"{NAME}:/data", image.tag, "ingest", "corpus",
        timeout=900,
    )  # fmt: skip
    notes = len(list(DEMO_CORPUS.iterdir()))
    assert f"added {notes}," in ingest and "failed 0" in ingest, ingest

    started = time.monotonic()
    docker(
        "run", "-d", "--name", NAME, "--network", offline_network, "--read-only",
        "--tmpfs", "/tmp", "-v", f"{NAME}:/data:ro", "--health-interval", "2s", image.tag,
    )  # fmt: skip
    figures["healthy_seconds"] = round(_wait_healthy(NAME), 1)
    figures["cold_start_note"] = "docker run to the image's healthcheck passing (every 2 s)"

    container = inspect(NAME)
    assert docker("exec", NAME, "id", "-u") == IMAGE_UID
    assert container["Config"]["User"] not in ("", "root", "0")  # type: ignore[index]
    cannot_write = subprocess.run(
        [DOCKER, "exec", NAME, "touch", "/data/written"], capture_output=True, text=True
    )
    assert cannot_write.returncode != 0 and "Read-only" in cannot_write.stderr

    no_way_out = subprocess.run(
        [DOCKER, "exec", NAME, "python", "-c",
         "import socket; socket.create_connection(('151.101.0.223', 443), timeout=5)"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert no_way_out.returncode != 0
    assert "unreachable" in no_way_out.stderr or "timed out" in no_way_out.stderr

    networks: Any = container["NetworkSettings"]
    address = networks["Networks"][offline_network]["IPAddress"]
    asked = time.monotonic()
    body = _ask(f"http://{address}:8000")
    figures["ask_seconds"] = round(time.monotonic() - asked, 1)
    figures["ask_mode"] = body["mode"]
    figures["serve_to_answer_seconds"] = round(time.monotonic() - started, 1)
    _assert_cited_from_the_notes(body)


def _compose(*args: str, env: dict[str, str], timeout: float = 900) -> str:
    done = subprocess.run(
        ["docker-compose", "-f", "docker/compose.yaml", "-p", NAME, "--profile", "cpu", *args],
        cwd=PROJECT, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-5000:]
    return done.stdout


def test_the_compose_cpu_profile_ingests_and_answers(image: Built, figures: dict[str, Any]) -> None:
    port = free_port()
    env = {"API_PORT": str(port), "DOCKER_HOST": "unix:///var/run/docker.sock"}
    started = time.monotonic()
    try:
        _compose("up", "-d", "--no-build", env=env)
        labels = [f"com.docker.compose.project={NAME}", "com.docker.compose.service=syllabus"]
        filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
        (api,) = docker("ps", "-q", *filters).split()
        _wait_healthy(api, deadline_s=600)
        figures["compose_up_to_healthy_seconds"] = round(time.monotonic() - started, 1)
        _assert_cited_from_the_notes(_ask(f"http://127.0.0.1:{port}"))
    finally:
        _compose("down", "-v", "--remove-orphans", env=env)
