"""A real OpenAI-compatible server for tests: llama-cpp-python's, on a free local port.

``start_llama_server(model)`` runs this module as a subprocess, waits until
``GET /v1/models`` answers, and stops the server on exit. Run as a module, it is
``python -m llama_cpp.server`` with the same flags, after loading llama.cpp's best CPU
variant from llama-cpp-python's ``lib/`` folder (``load_cpu_backend``), and with the
buffer types the service loads models with (``load_parameters``: no AMX buffers, which
crash) and its flash attention.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests.paths import PROJECT
from tests.servers import free_port, stop


@dataclass(frozen=True)
class LlamaServer:
    """A started server: its OpenAI base URL (``http://127.0.0.1:PORT/v1``) and process."""

    base_url: str
    model: str
    process: subprocess.Popen[bytes]


@contextmanager
def start_openai_server(model: Path) -> Iterator[LlamaServer]:
    """An OpenAI-compatible server over ``model``: vLLM when ``SYLLABUS_VLLM`` names its
    ``vllm`` executable (``scripts/check-vllm.sh``, on a GPU machine), else llama.cpp's."""
    vllm = os.environ.get("SYLLABUS_VLLM")
    if not vllm:
        with start_llama_server(model) as server:
            yield server
        return
    port = free_port()
    command = [
        vllm,
        *("serve", str(model), "--served-model-name", model.stem),
        *("--host", "127.0.0.1", "--port", str(port), "--max-model-len", "4096"),
        *("--tokenizer", os.environ.get("SYLLABUS_VLLM_TOKENIZER", str(model))),
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT)
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            _wait_ready(base_url, process, log, within=900.0)  # vLLM compiles its graphs
            yield LlamaServer(base_url=base_url, model=model.stem, process=process)
        finally:
            stop(process)


@contextmanager
def start_llama_server(
    model: Path, *, n_ctx: int = 2048, n_threads: int | None = None, ready_within: float = 120.0
) -> Iterator[LlamaServer]:
    """Start the server, wait until it answers, and stop it when the block ends."""
    port = free_port()
    threads = str(n_threads or max(1, (os.cpu_count() or 2) // 2))
    command = [
        sys.executable,
        "-m",
        "tests.service.llama_server",
        *("--model", str(model), "--model_alias", model.stem),
        *("--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)),
        *("--n_threads", threads, "--n_threads_batch", threads),
        *("--flash_attn", "true"),  # as the service runs its embedded model
    ]
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            _wait_ready(base_url, process, log, ready_within)
            yield LlamaServer(base_url=base_url, model=model.stem, process=process)
        finally:
            stop(process)


def _wait_ready(
    base_url: str, process: subprocess.Popen[bytes], log: IO[bytes], within: float
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama server exited with {process.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.25)
    raise RuntimeError(f"llama server not ready within {within:g} s:\n{_tail(log)}")


def _tail(log: IO[bytes], size: int = 4000) -> str:
    log.seek(0)
    return log.read().decode("utf-8", "replace")[-size:]


def main() -> None:
    """``python -m llama_cpp.server`` on the CPU variant and buffers the service uses."""
    from llama_cpp.server.__main__ import main as serve

    from service.generation.embedded import load_parameters
    from service.generation.native import load_cpu_backend

    with load_parameters(load_cpu_backend()):
        serve()


if __name__ == "__main__":
    main()
