"""A Docker engine for the image tests: the running one, else `dockerd` started here (and
stopped after), and the image built from docker/Dockerfile on a base made locally when no
registry is reachable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.paths import PROJECT

# The Debian client that comes with the engine: it builds with BuildKit without buildx.
DOCKER = shutil.which("docker", path="/usr/bin") or "docker"
# A bookworm base with Python 3.11, venv and make, for the Dockerfile's BASE_IMAGE.
LOCAL_BASE = "syllabus-base:bookworm"
BASE_PACKAGES = "python3,python3-venv,make,ca-certificates"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    """Run a docker command; its stdout."""
    done = subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return done.stdout.strip()


def _engine_answers() -> bool:
    return subprocess.run([DOCKER, "info"], capture_output=True, timeout=30).returncode == 0


@contextmanager
def engine(log: Path) -> Iterator[None]:
    """The engine that answers, or `dockerd` started for the block and stopped after."""
    if _engine_answers():
        yield
        return
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    with log.open("wb") as sink:
        process = subprocess.Popen([dockerd], stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _engine_answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def base_image() -> str:
    """SYLLABUS_IMAGE_BASE when set; else a Debian bookworm base made with mmdebstrap
    (Debian's packages only), imported once under LOCAL_BASE."""
    given = os.environ.get("SYLLABUS_IMAGE_BASE")
    if given:
        return given
    if docker("image", "ls", "-q", LOCAL_BASE):
        return LOCAL_BASE
    strap = subprocess.Popen(
        ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={BASE_PACKAGES}",
         "bookworm", "-", DEBIAN_MIRROR],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    imported = subprocess.run(
        [DOCKER, "import", "-", LOCAL_BASE], stdin=strap.stdout, capture_output=True, timeout=900
    )
    if strap.wait(timeout=60) != 0 or imported.returncode != 0:
        raise RuntimeError(f"could not make {LOCAL_BASE}: {imported.stderr.decode()}")
    return LOCAL_BASE


@dataclass(frozen=True)
class Built:
    tag: str
    seconds: float
    size_bytes: int


def build(tag: str, base: str, log: Path) -> Built:
    """docker/Dockerfile built from the checkout; package installs reach the registries
    through the host's network."""
    # The CA bundle pip trusts here, for a registry reached through a TLS-inspecting proxy.
    bundle = Path(os.environ.get("PIP_CERT") or SYSTEM_CA_BUNDLE)
    secret = ["--secret", f"id=ca,src={bundle}"] if bundle.is_file() else []
    started = time.monotonic()
    with log.open("wb") as sink:
        done = subprocess.run(
            [DOCKER, "build", "--network=host", "--progress=plain", "--build-arg",
             f"BASE_IMAGE={base}", *secret, "-f", "docker/Dockerfile", "-t", tag, "."],
            cwd=PROJECT, stdout=sink, stderr=subprocess.STDOUT, timeout=3600,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"docker build failed:\n{log.read_text()[-5000:]}")
    size = int(docker("image", "inspect", "--format", "{{.Size}}", tag))
    return Built(tag, time.monotonic() - started, size)


def inspect(container: str) -> dict[str, object]:
    found: list[dict[str, object]] = json.loads(docker("inspect", container))
    return found[0]
