"""llama.cpp's CPU kernels: the install builds every variant, the best for this CPU runs,
a CPU without AVX-512 is still served, and the AMX crash stays worked around."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from service.generation.embedded import load_parameters
from service.generation.native import (
    VARIANT_NEEDS,
    CpuBackend,
    best_variant,
    cpu_flags,
    load_cpu_backend,
)
from tests.paths import PROJECT

ALL_VARIANTS = tuple(VARIANT_NEEDS)

HASWELL = frozenset(["sse4_2", "avx", "f16c", "fma", "avx2", "bmi2"])
ZEN4 = HASWELL | frozenset(
    [
        "avx512f",
        "avx512cd",
        "avx512vl",
        "avx512dq",
        "avx512bw",
        "avx512vbmi",
        "avx512_vnni",
        "avx512_bf16",
    ]
)
SAPPHIRE_RAPIDS = ZEN4 | {"amx_int8", "amx_tile", "amx_bf16"}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (ZEN4, "zen4"),
        (SAPPHIRE_RAPIDS, "sapphirerapids"),
        (HASWELL, "haswell"),
        (HASWELL | {"avx_vnni"}, "alderlake"),
        (ZEN4 - {"avx512_bf16"}, "icelake"),
        (frozenset({"sse4_2"}), "sse42"),
        (frozenset(), "x64"),
    ],
)
def test_the_best_variant_is_the_richest_one_the_cpu_fully_supports(
    flags: frozenset[str], expected: str
) -> None:
    assert best_variant(flags, ALL_VARIANTS) == expected


def test_a_variant_the_install_lacks_is_never_chosen() -> None:
    assert best_variant(ZEN4, ("x64", "haswell")) == "haswell"
    assert best_variant(HASWELL, ("zen4",)) is None


@pytest.mark.integration
def test_this_install_runs_the_best_variant_for_this_cpu_and_says_so() -> None:
    backend = load_cpu_backend()
    assert set(backend.built_variants) >= {"x64", "haswell", "skylakex", "zen4"}, (
        "llama-cpp-python was not built with every CPU variant: `make install` builds it"
    )
    flags = cpu_flags()
    assert backend.variant == best_variant(flags, backend.built_variants)
    if "avx512f" in flags:
        assert "AVX512" in backend.features
    if "avx2" in flags:
        assert "AVX2" in backend.features
    assert backend.variant in backend.describe()


_ANSWER_ON = """
import asyncio, json, sys
from service.generation import GenerationParams, LlamaCppGenerator, Message
from service.generation.native import load_cpu_backend

async def main():
    generator = LlamaCppGenerator(n_ctx=512, n_threads=2, cpu_variant=sys.argv[1])
    messages = [Message("user", "What is the capital of France? Answer in one word.")]
    pieces = [p async for p in generator.stream(messages, GenerationParams(max_tokens=8))]
    await generator.aclose()
    backend = load_cpu_backend()
    print(json.dumps({"variant": backend.variant, "features": backend.features,
                      "answer": "".join(pieces)}))

asyncio.run(main())
"""


@pytest.mark.integration
@pytest.mark.parametrize("variant", ["haswell", "x64"])
def test_a_cpu_without_avx512_is_served_by_its_own_variant(variant: str) -> None:
    """What a CPU without AVX-512 (or without AVX at all) loads answers as well: the
    variant is forced, as the dispatch would choose it on such a CPU."""
    done = subprocess.run(
        [sys.executable, "-c", _ANSWER_ON, variant],
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["variant"] == variant
    assert "AVX512" not in result["features"]
    assert ("AVX2" in result["features"]) == (variant == "haswell")
    assert "paris" in result["answer"].lower()


def test_a_cpu_variant_that_is_not_built_is_a_clear_error() -> None:
    from service.errors import GeneratorUnavailable
    from service.generation import LlamaCppGenerator

    with pytest.raises(GeneratorUnavailable, match="pentium2"):
        LlamaCppGenerator(n_ctx=512, cpu_variant="pentium2")


@pytest.mark.parametrize(
    ("features", "extra"), [(("AVX512", "AMX_INT8"), False), (("AVX512",), True)]
)
def test_amx_buffers_stay_off_as_they_crash_and_repacked_ones_stay_on(
    features: tuple[str, ...], extra: bool
) -> None:
    import llama_cpp.llama_cpp as native

    backend = CpuBackend(variant="test", features=features, built_variants=())
    with load_parameters(backend):
        assert native.llama_model_default_params().use_extra_bufts is extra
    assert native.llama_model_default_params().use_extra_bufts is True


def test_buffer_types_chosen_around_a_generator_that_chooses_them_again() -> None:
    """The benchmark wraps the service's generator, which wraps its own load: on an AMX
    CPU both leave the extra types out, and the nested choice must not wait for itself."""
    import threading

    import llama_cpp.llama_cpp as native

    amx = CpuBackend(variant="test", features=("AVX512", "AMX_INT8"), built_variants=())
    seen: list[bool] = []

    def nested() -> None:
        with load_parameters(amx, extra_buffers=False), load_parameters(amx):
            seen.append(native.llama_model_default_params().use_extra_bufts)

    worker = threading.Thread(target=nested, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive() and seen == [False]
    assert native.llama_model_default_params().use_extra_bufts is True
