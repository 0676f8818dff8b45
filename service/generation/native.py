"""The llama.cpp build this process runs: which CPU kernels it loaded, and why.

``make install`` builds llama-cpp-python with every x86 variant of llama.cpp's CPU
backend as its own library (``GGML_BACKEND_DL`` with ``GGML_CPU_ALL_VARIANTS``):
``libggml-cpu-haswell.so`` for AVX2, ``libggml-cpu-zen4.so`` for AVX-512 with VBMI,
VNNI and BF16, ``libggml-cpu-sapphirerapids.so`` with AMX, and so on. At run time
llama.cpp scores each library against the CPU and loads the best, so one wheel (and
one Docker image) runs everywhere and runs fast on the CPU it finds.

llama.cpp looks for those libraries beside the executable and in the working folder,
neither of which is llama-cpp-python's ``lib/`` folder, so :func:`load_cpu_backend`
loads them from there before the first model: call it before ``Llama()``. A build
without the variants (one CPU backend linked in) needs nothing loaded and works the same.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# What each x86 variant of llama.cpp 0.3.x's CPU backend needs, in /proc/cpuinfo's
# words, as llama.cpp's own scoring checks them (ggml-cpu/arch/x86/cpu-feats.cpp).
_FMA_AVX2 = ("sse4_2", "avx", "f16c", "fma", "avx2", "bmi2")
_AVX512 = (*_FMA_AVX2, "avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")
VARIANT_NEEDS: dict[str, tuple[str, ...]] = {
    "x64": (),
    "sse42": ("sse4_2",),
    "sandybridge": ("sse4_2", "avx"),
    "ivybridge": ("sse4_2", "avx", "f16c"),
    "piledriver": ("sse4_2", "avx", "f16c", "fma"),
    "haswell": _FMA_AVX2,
    "skylakex": _AVX512,
    "cannonlake": (*_AVX512, "avx512vbmi"),
    "cascadelake": (*_AVX512, "avx512_vnni"),
    "icelake": (*_AVX512, "avx512vbmi", "avx512_vnni"),
    "cooperlake": (*_AVX512, "avx512_vnni", "avx512_bf16"),
    "zen4": (*_AVX512, "avx512vbmi", "avx512_vnni", "avx512_bf16"),
    "alderlake": (*_FMA_AVX2, "avx_vnni"),
    "sapphirerapids": (*_AVX512, "avx512vbmi", "avx512_vnni", "avx512_bf16", "amx_int8"),
}
# llama.cpp's score: one bit per feature, the later ones worth more than all before them.
_SCORE_BITS = (
    ("fma",),
    ("f16c",),
    ("sse4_2",),
    ("bmi2",),
    ("avx",),
    ("avx2",),
    ("avx_vnni",),
    ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"),
    ("avx512vbmi",),
    ("avx512_bf16",),
    ("avx512_vnni",),
    ("amx_int8",),
)
_VARIANT_FILE = re.compile(r"libggml-cpu-([A-Za-z0-9_.]+)\.so$")

_LOCK = threading.Lock()
_loaded: CpuBackend | None = None


@dataclass(frozen=True, slots=True)
class CpuBackend:
    """The CPU backend llama.cpp runs here.

    ``variant`` is the library chosen among the built variants (``None`` for a build
    with one CPU backend linked in); ``features`` are the instruction sets its kernels
    use, as llama.cpp reports them (``AVX512``, ``AVX512_VNNI``, ``AMX_INT8``…).
    """

    variant: str | None
    features: tuple[str, ...]
    built_variants: tuple[str, ...]

    @property
    def has_amx(self) -> bool:
        return "AMX_INT8" in self.features

    def describe(self) -> str:
        chosen = f"variant {self.variant}" if self.variant else "single built-in variant"
        return f"llama.cpp CPU backend: {chosen}; kernels use {', '.join(self.features) or '-'}"


def library_dir() -> Path:
    """llama-cpp-python's ``lib/`` folder, where its shared libraries are installed."""
    import llama_cpp

    return Path(llama_cpp.__file__).resolve().parent / "lib"


def built_variants(lib_dir: Path | None = None) -> tuple[str, ...]:
    """The CPU variants this install has a library for (none: one built-in backend)."""
    folder = lib_dir or library_dir()
    names = (_VARIANT_FILE.search(p.name) for p in folder.glob("libggml-cpu-*.so"))
    return tuple(sorted(m.group(1) for m in names if m))


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags as the kernel lists them (empty where it does not)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def best_variant(flags: frozenset[str], available: tuple[str, ...]) -> str | None:
    """The variant llama.cpp should pick for a CPU with ``flags``: the highest-scoring
    one whose every requirement the CPU meets."""

    def score(variant: str) -> int:
        needs = set(VARIANT_NEEDS[variant])
        if not needs <= flags:
            return 0
        bits = (1 << n for n, group in enumerate(_SCORE_BITS) if needs & set(group))
        return 1 + sum(bits)

    scored = [(score(v), v) for v in available if v in VARIANT_NEEDS]
    best = max(scored, default=(0, ""))
    return best[1] if best[0] > 0 else None


def load_cpu_backend(variant: str | None = None) -> CpuBackend:
    """Load llama.cpp's best CPU variant for this CPU (or ``variant``, to compare or to
    work around one); idempotent, and a no-op for a build with one built-in backend.

    The first call decides for the whole process: llama.cpp keeps one CPU backend.
    """
    global _loaded
    with _LOCK:
        if _loaded is None:
            _loaded = _load(variant)
            logger.info(_loaded.describe())
        elif variant is not None and variant != _loaded.variant:
            raise RuntimeError(
                f"llama.cpp already runs CPU variant {_loaded.variant}; "
                f"{variant} can only be chosen before the first model loads"
            )
        return _loaded


def _load(variant: str | None) -> CpuBackend:
    lib_dir = library_dir()
    available = built_variants(lib_dir)
    ggml = _ggml_library()
    if available and ggml.ggml_backend_reg_count() == 0:
        if variant is None:
            ggml.ggml_backend_load_all_from_path(str(lib_dir).encode())
        else:
            if variant not in available:
                raise ValueError(f"no llama.cpp CPU variant {variant!r}; built: {available}")
            if not ggml.ggml_backend_load(str(lib_dir / f"libggml-cpu-{variant}.so").encode()):
                raise RuntimeError(f"llama.cpp could not load its CPU variant {variant}")
    return CpuBackend(
        variant=_mapped_variant() if available else None,
        features=_cpu_features(ggml),
        built_variants=available,
    )


def _mapped_variant() -> str | None:
    """The CPU variant library this process has mapped (Linux); llama.cpp unloads the
    others once it has scored them."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = {m.group(1) for line in maps.splitlines() if (m := _VARIANT_FILE.search(line))}
    return found.pop() if len(found) == 1 else None


class _Feature(ctypes.Structure):
    _fields_ = (("name", ctypes.c_char_p), ("value", ctypes.c_char_p))


_GET_FEATURES = ctypes.CFUNCTYPE(ctypes.POINTER(_Feature), ctypes.c_void_p)


def _cpu_features(ggml: ctypes.CDLL) -> tuple[str, ...]:
    """The features the loaded CPU backend reports (``ggml_backend_get_features``)."""
    for index in range(ggml.ggml_backend_reg_count()):
        reg = ggml.ggml_backend_reg_get(index)
        if ggml.ggml_backend_reg_name(reg) != b"CPU":
            continue
        address = ggml.ggml_backend_reg_get_proc_address(reg, b"ggml_backend_get_features")
        if not address:
            return ()
        features = _GET_FEATURES(address)(reg)
        names: list[str] = []
        for n in range(64):  # the list ends with a null name
            if not features[n].name:
                break
            if features[n].value not in (b"0", b""):
                names.append(features[n].name.decode())
        return tuple(names)
    return ()


def _ggml_library() -> ctypes.CDLL:
    """libggml as libllama uses it, with the registry functions typed.

    The wheel holds libggml as separate files (``libggml.so``, ``libggml.so.0``…), and
    ``llama_cpp._ggml`` opens a different one from the one libllama links, so the
    process has two registries: the backends must go into libllama's, found here among
    the libraries already loaded.
    """
    import llama_cpp.llama_cpp  # noqa: F401  (loads libllama and the libggml it links)

    folder = library_dir()
    candidates = sorted(folder.glob("libggml.so.*"), key=lambda p: len(p.name))
    for path in [*candidates, folder / "libggml.so"]:
        try:
            ggml = ctypes.CDLL(str(path), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
            break
        except OSError:  # not the file libllama loaded
            continue
    else:
        raise RuntimeError(f"libllama's libggml is not among the loaded libraries of {folder}")
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path.restype = None
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_reg_count.argtypes = []
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    ggml.ggml_backend_reg_get.argtypes = [ctypes.c_size_t]
    ggml.ggml_backend_reg_get.restype = ctypes.c_void_p
    ggml.ggml_backend_reg_name.argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_reg_name.restype = ctypes.c_char_p
    ggml.ggml_backend_reg_get_proc_address.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    ggml.ggml_backend_reg_get_proc_address.restype = ctypes.c_void_p
    return ggml
