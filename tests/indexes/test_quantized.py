"""The int8 ONNX embedder: its cache (with a stand-in export), then the real build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexes import quantized
from indexes.embedder import SentenceTransformerEmbedder
from indexes.quantized import QuantizedModelUnavailable, ensure_model


def _model_dir(folder: Path, *, pooling: str = "pooling_mode_mean_tokens") -> Path:
    """The files :func:`ensure_model` looks at, without any weights."""
    (folder / "1_Pooling").mkdir(parents=True)
    modules = [
        {"path": "", "type": "sentence_transformers.models.Transformer"},
        {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({pooling: True}), "utf-8")
    (folder / "config.json").write_text('{"hidden_size": 8}', encoding="utf-8")
    (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    return folder


class Exports:
    """Stands in for the real export; counts calls and can die halfway."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def __call__(self, model_name: str, source: Path, folder: Path) -> None:
        self.calls += 1
        (folder / quantized.MODEL_FILE).write_bytes(b"half a model")
        if self.fail:
            raise RuntimeError("killed mid-export")
        (folder / quantized.INFO_FILE).write_text("{}", encoding="utf-8")


def test_the_model_is_built_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, cache = _model_dir(tmp_path / "model"), tmp_path / "cache"
    export = Exports()
    monkeypatch.setattr(quantized, "_export", export)
    first = ensure_model("tiny", source, cache)
    assert ensure_model("tiny", source, cache) == first and export.calls == 1
    assert first.parent == cache and first.name.startswith("tiny-")
    assert sorted(p.name for p in cache.iterdir()) == [first.name]  # no staging left


def test_a_failed_export_leaves_no_model_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, cache = _model_dir(tmp_path / "model"), tmp_path / "cache"
    monkeypatch.setattr(quantized, "_export", Exports(fail=True))
    with pytest.raises(RuntimeError, match="killed"):
        ensure_model("tiny", source, cache)
    assert list(cache.iterdir()) == []
    export = Exports()
    monkeypatch.setattr(quantized, "_export", export)
    assert (ensure_model("tiny", source, cache) / quantized.INFO_FILE).is_file()
    assert export.calls == 1


def test_changed_weights_get_a_new_cache_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, cache = _model_dir(tmp_path / "model"), tmp_path / "cache"
    monkeypatch.setattr(quantized, "_export", Exports())
    first = ensure_model("tiny", source, cache)
    (source / "model.safetensors").write_bytes(b"fine-tuned weights")
    assert ensure_model("tiny", source, cache) != first


def test_an_unwritable_cache_builds_for_this_process_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _model_dir(tmp_path / "model")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    monkeypatch.setattr(quantized, "_export", Exports())
    folder = ensure_model("tiny", source, blocked / "cache")
    assert (folder / quantized.INFO_FILE).is_file() and not folder.is_relative_to(blocked)


def test_models_not_mean_pooled_are_refused(tmp_path: Path) -> None:
    source = _model_dir(tmp_path / "model", pooling="pooling_mode_cls_token")
    with pytest.raises(QuantizedModelUnavailable, match="mean-pooled models only"):
        ensure_model("cls", source, tmp_path / "cache")


SENTENCES = [
    "The forget gate of an LSTM decides which parts of the cell state to discard.",
    "Adam keeps running averages of the gradients and of their squares.",
    "LoRA freezes the pretrained weights and trains a low-rank update instead.",
    "The KV cache stores the keys and values of earlier tokens for every layer.",
    "Reciprocal rank fusion adds one over k plus the rank from each retriever.",
]


@pytest.mark.integration
def test_the_int8_model_is_built_from_the_packaged_weights_and_agrees_with_torch(
    real_embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    int8 = SentenceTransformerEmbedder(backend="onnx-int8", cache_dir=tmp_path / "cache")
    vectors = int8.embed(SENTENCES)
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(vectors * real_embedder.embed(SENTENCES), axis=1)
    assert cosines.min() > 0.98, cosines
    assert int8.count_tokens(SENTENCES) == real_embedder.count_tokens(SENTENCES)
    assert (int8.dimension, int8.max_tokens) == (384, 254)
    [built] = (tmp_path / "cache").iterdir()
    info = json.loads((built / quantized.INFO_FILE).read_text(encoding="utf-8"))
    assert info["model"] == "all-MiniLM-L6-v2" and info["recipe"] == quantized.RECIPE

    def no_export(*_: object) -> None:
        raise AssertionError("the cached model should have been used")

    monkeypatch.setattr(quantized, "_export", no_export)
    again = SentenceTransformerEmbedder(backend="onnx-int8", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again.embed(SENTENCES), vectors)
