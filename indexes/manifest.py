"""``manifest.json``: what an index version was built with, and from what."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from indexes.errors import EmbedderMismatch, IndexCorrupt, IndexNotFound

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
_RECORDED_LIBRARIES = (
    "syllabus",
    "faiss-cpu",
    "bm25s",
    "sentence-transformers",
    "numpy",
    "onnxruntime",
)
# Backends whose vectors of the same model may be searched with each other's query
# vectors: int8 and float32 vectors of all-MiniLM-L6-v2 agree to cosine 0.994, and
# hit@5 on SQuAD dev with a float index and int8 queries is measured in BENCHMARKS.md.
INTERCHANGEABLE_BACKENDS = frozenset({"torch", "onnx-int8"})


class EmbedderInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    # Manifests written before backends existed were all built with torch.
    backend: str = Field("torch", description="how the vectors were computed, e.g. onnx-int8")
    dimension: int = Field(gt=0)
    max_tokens: int = Field(gt=0)


# The version of ingest.chunking's rules for where a chunk ends; raised when they cut
# text differently, so an index built under older rules is rebuilt, not kept in part.
# 2: a chunk ends on no sentence that leads into the next, and opens on none that
# points back without the sentence it points to.
CHUNKING_RULES = 2


class ChunkerParams(BaseModel):
    model_config = ConfigDict(frozen=True)

    chunk_tokens: int = Field(gt=0)
    overlap_tokens: int = Field(ge=0)
    rules: int = Field(CHUNKING_RULES, ge=1)


class Counts(BaseModel):
    documents: int = Field(ge=0)
    chunks: int = Field(ge=0)


class Manifest(BaseModel):
    """Everything needed to decide whether an index can serve a configuration."""

    format_version: int = FORMAT_VERSION
    version: int = Field(ge=1)
    created_at: str
    embedder: EmbedderInfo
    chunker: ChunkerParams
    vector_index: str = Field(description="'flat' (exact) or 'hnsw'")
    counts: Counts
    documents: dict[str, str] = Field(description="document source -> sha256 of its content")
    libraries: dict[str, str]

    @field_validator("chunker", mode="before")
    @classmethod
    def _chunked_before_rules(cls, data: object) -> object:
        """A manifest written before the rules had a version was chunked under rules 1."""
        if isinstance(data, dict) and "rules" not in data:
            return {**data, "rules": 1}
        return data

    def check_embedder(self, model: str, backend: str, where: Path) -> None:
        """Fail loudly when the index was built with another embedding model, or with
        a backend whose vectors are not interchangeable with the configured one's.

        The float32 and int8 backends of one model are interchangeable: searching is
        allowed, with a warning, and the next ingestion re-embeds every document.
        """
        if _canonical(self.embedder.model) != _canonical(model):
            raise EmbedderMismatch(
                f"the index at {where} was built with the embedding model "
                f"{self.embedder.model!r} but {model!r} is configured; re-ingest the "
                "collection or set SYLLABUS_EMBEDDING_MODEL to the index's model"
            )
        built = self.embedder.backend
        if built == backend:
            return
        if {built, backend} <= INTERCHANGEABLE_BACKENDS:
            log.warning(
                "the index at %s holds %s vectors and is searched with %s query vectors; "
                "the next ingestion re-embeds it with %s",
                where,
                built,
                backend,
                backend,
            )
            return
        raise EmbedderMismatch(
            f"the index at {where} was built with the {built!r} backend of "
            f"{self.embedder.model!r} but the {backend!r} backend is configured; re-ingest "
            "the collection or set SYLLABUS_EMBEDDING_BACKEND to the index's backend"
        )


def _canonical(model: str) -> str:
    return model.removeprefix("sentence-transformers/").rstrip("/")


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _RECORDED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_manifest(manifest: Manifest, directory: Path) -> None:
    path = directory / MANIFEST_NAME
    path.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_NAME
    shown = "/".join(path.parts[-4:])  # collection/versions/N/manifest.json: no server folders
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexNotFound(f"no manifest at {shown}") from exc
    except (OSError, ValueError) as exc:  # unreadable, or not JSON
        raise IndexCorrupt(f"the manifest {shown} cannot be read: {exc}") from exc
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise IndexCorrupt(f"the manifest {shown} is not a Syllabus manifest") from exc
