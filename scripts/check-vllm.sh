#!/usr/bin/env bash
# The vLLM path, checked on a machine with an NVIDIA GPU (none has been available to this
# project so far: until this script has run, the README calls the path untested).
#
#   scripts/check-vllm.sh            # from the checkout; prints the figures at the end
#
# It installs vLLM into its own virtualenv, serves the packaged Qwen2.5-Coder-1.5B GGUF
# (assembled and checked by `make install`'s model code, no download of weights), runs
# the remote-generator integration tests against that vLLM, then `syllabus serve` with
# SYLLABUS_GENERATOR=openai in front of it: the service's latency benchmark and a short
# `syllabus eval` of the learner dev set. Figures and logs go to var/check-vllm/.
#
# Settings (environment):
#   VLLM_SPEC        what pip installs (default vllm==0.29.0, the compose file's version)
#   VLLM_VENV        its virtualenv (default ~/.cache/syllabus/vllm-venv)
#   VLLM_TOKENIZER   tokenizer vLLM uses (default: converted from the GGUF itself; with
#                    the Hugging Face hub reachable, Qwen/Qwen2.5-Coder-1.5B-Instruct is
#                    faster to load)
#   EVAL_LIMIT       learner dev questions asked (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "check-vllm: no NVIDIA GPU here (nvidia-smi not found); run it on a GPU machine" >&2
    exit 2
fi
OUT=var/check-vllm
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

VLLM_SPEC=${VLLM_SPEC:-vllm==0.29.0}
VLLM_VENV=${VLLM_VENV:-$HOME/.cache/syllabus/vllm-venv}
EVAL_LIMIT=${EVAL_LIMIT:-30}
VLLM_PORT=8001
SERVE_PORT=8765

make install-dev
if [ ! -x "$VLLM_VENV/bin/vllm" ]; then
    python3 -m venv "$VLLM_VENV"
    "$VLLM_VENV/bin/pip" install -q --upgrade pip
    "$VLLM_VENV/bin/pip" install -q "$VLLM_SPEC"
    # Newer vLLM releases load GGUF through a plugin; older ones need none.
    "$VLLM_VENV/bin/pip" install -q vllm-gguf-plugin 2>/dev/null || true
fi
"$VLLM_VENV/bin/vllm" --version | tee "$OUT/vllm-version.txt"

GGUF=$(.venv/bin/python -c "from service.generation import default_gguf_path; print(default_gguf_path())")
MODEL=$(basename "$GGUF" .gguf)
TOKENIZER=${VLLM_TOKENIZER:-$GGUF}
echo "check-vllm: serving $GGUF (tokenizer $TOKENIZER)"

echo "== the remote-generator integration tests against vLLM"
SYLLABUS_VLLM="$VLLM_VENV/bin/vllm" SYLLABUS_VLLM_TOKENIZER="$TOKENIZER" \
    .venv/bin/pytest -q tests/e2e/test_remote_generator.py 2>&1 | tee "$OUT/tests.txt"

echo "== vLLM serving, Syllabus in front of it"
"$VLLM_VENV/bin/vllm" serve "$GGUF" --served-model-name "$MODEL" --tokenizer "$TOKENIZER" \
    --host 127.0.0.1 --port "$VLLM_PORT" --max-model-len 4096 >"$OUT/vllm.log" 2>&1 &
VLLM_PID=$!
SERVE_PID=
cleanup() {
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null || true
    kill "$VLLM_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 900); do
    curl -sf "http://127.0.0.1:$VLLM_PORT/v1/models" >/dev/null && break
    kill -0 "$VLLM_PID" 2>/dev/null || { tail -40 "$OUT/vllm.log"; exit 1; }
    sleep 1
done

export SYLLABUS_GENERATOR=openai SYLLABUS_OPENAI_BASE_URL="http://127.0.0.1:$VLLM_PORT/v1"
export SYLLABUS_OPENAI_MODEL="$MODEL" SYLLABUS_ANSWER_STRATEGY=auto SYLLABUS_RATE_LIMIT_PER_MINUTE=0
.venv/bin/syllabus ingest corpus --if-missing
.venv/bin/syllabus serve --port "$SERVE_PORT" >"$OUT/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$SERVE_PORT/readyz" >/dev/null && break
    sleep 1
done

echo "== /v1/ask latency (first content, the model's first token, total)"
.venv/bin/python -m eval.bench.latency --url "http://127.0.0.1:$SERVE_PORT" --rounds 2 \
    --out "$OUT/service-bench.json" | tee "$OUT/service-bench.txt"
echo "== answer quality: learner dev set, $EVAL_LIMIT questions"
.venv/bin/syllabus eval run eval/examples/learner-dev.jsonl --url "http://127.0.0.1:$SERVE_PORT" \
    --limit "$EVAL_LIMIT" --out "$OUT/eval" | tee "$OUT/eval.txt"
echo "== vLLM's own counters"
curl -s "http://127.0.0.1:$VLLM_PORT/metrics" \
    | grep -E '^vllm:(time_to_first_token_seconds|generation_tokens_total|prompt_tokens_total|e2e_request_latency_seconds)_(sum|count|total)' \
    | tee "$OUT/vllm-metrics.txt" || true
echo "check-vllm: done; figures in $OUT/ (record them in BENCHMARKS.md)"
