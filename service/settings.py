"""The one configuration object, read from ``SYLLABUS_*`` variables and ``.env``.

Every setting has a working default; the CLI's flags override them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexes import ChunkerParams, FusionWeights
from indexes.embedder import DEFAULT_MODEL

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Syllabus configuration; each field is documented in the README."""

    model_config = SettingsConfigDict(
        env_prefix="SYLLABUS_", env_file=".env", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(
        PROJECT_ROOT / "var" / "collections",
        description="Folder holding one index directory per collection.",
    )
    collection: str = Field("default", description="Collection used when a request names none.")
    embedding_model: str = Field(
        DEFAULT_MODEL,
        description="Sentence-transformers model: a packaged model name or a model directory.",
    )
    chunk_tokens: int = Field(
        200, ge=32, le=254, description="Largest chunk, in the embedder's word pieces."
    )
    overlap_tokens: int = Field(
        32, ge=0, le=128, description="Word pieces repeated between neighbouring chunks."
    )
    hnsw_threshold: int = Field(
        50_000, ge=1, description="Chunk count from which FAISS uses HNSW instead of exact search."
    )
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in RRF fusion.")
    lexical_weight: float = Field(
        1.0, ge=0, description="Weight of the BM25 ranking in RRF fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Rank offset k of reciprocal rank fusion.")
    search_candidates: int = Field(
        50, ge=1, le=1000, description="Candidates taken from each retriever before fusion."
    )
    ingest_wait_seconds: float = Field(
        0.0, ge=0, description="How long an ingestion waits for another one on the same index."
    )

    def chunker(self) -> ChunkerParams:
        return ChunkerParams(chunk_tokens=self.chunk_tokens, overlap_tokens=self.overlap_tokens)

    def fusion(self) -> FusionWeights:
        return FusionWeights(
            dense=self.dense_weight,
            lexical=self.lexical_weight,
            rrf_k=self.rrf_k,
            candidates=self.search_candidates,
        )
