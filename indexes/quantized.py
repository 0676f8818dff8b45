"""An int8 ONNX form of a sentence-transformers model, built locally and cached.

At first use the model's own PyTorch weights are exported to ONNX
(``torch.onnx``), the weights of its matrix products are quantised to int8
with ONNX Runtime's dynamic quantisation, and the result is written under the
cache directory: built in a staging folder beside it and renamed into place,
so a crash mid-export leaves no half model.  Later uses load the cached file
with ONNX Runtime and never import torch.

Only mean-pooled models (transformer, mean pooling, optional normalisation),
such as all-MiniLM-L6-v2, are supported: pooling is done here in numpy.
"""

from __future__ import annotations

import atexit
import hashlib
import inspect
import json
import logging
import os
import platform
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from indexes.errors import EmbedderUnavailable

log = logging.getLogger(__name__)

# Bump when the export or the quantisation changes: caches built by another recipe are ignored.
RECIPE = 1
MODEL_FILE = "model.onnx"
INFO_FILE = "export.json"
_STALE_STAGING_SECONDS = 3600
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")


class QuantizedModelUnavailable(EmbedderUnavailable):
    """The int8 model cannot be built or loaded (missing package, unsupported model)."""


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def has_int8_dot_product() -> bool:
    """Whether this CPU has VNNI (AVX512-VNNI or AVX-VNNI) int8 dot-product instructions."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return True  # ONNX Runtime's Arm kernels take full-range int8 weights
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    return bool({"avx512_vnni", "avx_vnni"} & set(flags.split()))


def variant() -> str:
    """The quantisation suited to this CPU, part of the cache key.

    x86 CPUs without VNNI multiply uint8 by int8 with 16-bit intermediate sums
    that can saturate; ONNX Runtime's remedy is 7-bit weights (``reduce_range``).
    """
    return "int8" if has_int8_dot_product() else "int8-reduced-range"


def check_supported(source: Path) -> None:
    """Refuse models whose pooling this module does not reproduce."""
    modules = source / "modules.json"
    if not modules.is_file() or not (source / "tokenizer.json").is_file():
        raise QuantizedModelUnavailable(
            f"the ONNX backend needs a sentence-transformers model with a fast tokenizer "
            f"(modules.json and tokenizer.json) in {source}"
        )
    kinds = [str(m["type"]).rsplit(".", 1)[-1] for m in _read_json(modules)]
    pooling = _read_json(source / "1_Pooling" / "config.json") if "Pooling" in kinds else {}
    if any(k not in _SUPPORTED_MODULES for k in kinds) or not pooling.get(
        "pooling_mode_mean_tokens"
    ):
        raise QuantizedModelUnavailable(
            f"the ONNX backend supports mean-pooled models only; {source} has {kinds}"
        )


def cache_key(model_name: str, source: Path) -> str:
    """Model name, a hash of its weights and configuration, quantisation and recipe."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        path = source / name
        if path.is_file():
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name)
    return f"{safe_name}-{digest.hexdigest()[:12]}-{variant()}-r{RECIPE}"


def ensure_model(model_name: str, source: Path, cache_dir: Path | None) -> Path:
    """The folder holding the int8 model for ``source``, building it on first use.

    With no ``cache_dir``, or one that cannot be written, the model is built in a
    temporary folder for this process only (a warning says why when it is the latter).
    """
    check_supported(source)
    if cache_dir is None:
        return _temporary(model_name, source)
    target = cache_dir / cache_key(model_name, source)
    if (target / INFO_FILE).is_file():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(cache_dir, target.name)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the model from other users
    except OSError as exc:
        log.warning("cannot write the model cache %s (%s); building in a temp dir", cache_dir, exc)
        return _temporary(model_name, source)
    try:
        _export(model_name, source, staging)
        staging.rename(target)  # atomic; fails when another process published it first
    except OSError:
        if not (target / INFO_FILE).is_file():
            raise
        log.info("another process built %s meanwhile; using it", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _temporary(model_name: str, source: Path) -> Path:
    staging = Path(tempfile.mkdtemp(prefix="syllabus-int8-"))
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    _export(model_name, source, staging)
    return staging


def _remove_stale_staging(cache_dir: Path, key: str) -> None:
    """Staging folders of builds killed long ago (a running build's is recent)."""
    cutoff = time.time() - _STALE_STAGING_SECONDS
    for leftover in cache_dir.glob(f".{key}-*"):
        if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
            shutil.rmtree(leftover, ignore_errors=True)


def _export(model_name: str, source: Path, folder: Path) -> None:
    """Export ``source`` to float ONNX, quantise it to int8, record how, in ``folder``."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise QuantizedModelUnavailable(
            "the onnx-int8 embedding backend needs ONNX Runtime: pip install onnxruntime onnx"
        ) from exc
    started = time.perf_counter()
    log.info("building the int8 ONNX model of %s in %s (once)", model_name, folder)
    float_model = folder / "float.onnx"
    _export_float(source, float_model)
    reduce_range = variant() != "int8"
    # Per-channel scales: one scale per weight matrix cost 0.96 cosine to the float
    # vectors on SQuAD text, per-channel 0.994 (BENCHMARKS.md).
    with _quantizer_quiet():
        quantize_dynamic(
            float_model,
            folder / MODEL_FILE,
            per_channel=True,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
        )
    float_model.unlink()
    info = {
        "model": model_name,
        "source": str(source),
        "variant": variant(),
        "recipe": RECIPE,
        "weights": "int8, per channel, dynamic activation quantisation",
        "reduce_range": reduce_range,
        "libraries": {n: _version(n) for n in ("torch", "transformers", "onnx", "onnxruntime")},
        "seconds": round(time.perf_counter() - started, 1),
    }
    # Written last: its presence marks a complete model.
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


@contextmanager
def _quantizer_quiet() -> Iterator[None]:
    """ONNX Runtime's quantiser logs a line per tensor on the root logger; drop those."""

    def keep(record: logging.LogRecord) -> bool:
        return f"onnxruntime{os.sep}quantization" not in record.pathname

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _export_float(source: Path, path: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()
    inputs = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        inputs.append("token_type_ids")
    dummy = {name: torch.ones((2, 8), dtype=torch.long) for name in inputs}

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: Any) -> Any:
            return self.inner(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

    axes = {name: {0: "batch", 1: "tokens"} for name in [*inputs, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about Python conditions on shapes that are constant here.
        warnings.simplefilter("ignore")
        # The TorchScript exporter: the dynamo one needs onnxscript and took 4x longer.
        torch.onnx.export(
            _Hidden(model),
            tuple(dummy[name] for name in inputs),
            str(path),
            input_names=inputs,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


class QuantizedModel:
    """The cached int8 model run by ONNX Runtime, with the model's own tokenizer."""

    def __init__(self, folder: Path, source: Path, max_seq_length: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        # tokenizer.json carries its own truncation and padding (128, fixed): override both.
        self._tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_seq_length)
        self._counter = Tokenizer.from_file(str(source / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()
        self.max_seq_length = max_seq_length
        self._dimension = int(_read_json(source / "config.json")["hidden_size"])

    def get_embedding_dimension(self) -> int:
        """Width of the vectors: mean pooling keeps the transformer's."""
        return self._dimension

    def encode(self, texts: Sequence[str], batch_size: int) -> npt.NDArray[np.float32]:
        """Unit vectors of ``texts``; batches hold texts of similar length, so little padding."""
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out: npt.NDArray[np.float32] | None = None
        for start in range(0, len(order), batch_size):
            feed, mask = self._batch([encodings[i] for i in order[start : start + batch_size]])
            hidden = self._session.run(["last_hidden_state"], feed)[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            if out is None:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[order[start : start + batch_size]] = pooled
        if out is None:
            raise ValueError("nothing to encode")
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _batch(
        self, encodings: list[Any]
    ) -> tuple[dict[str, npt.NDArray[np.int64]], npt.NDArray[np.float32]]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)  # padding is masked: any id
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {k: v for k, v in feed.items() if k in self._inputs}, mask.astype(np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encoded = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encoded]
