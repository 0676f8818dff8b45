"""The one configuration object, read from ``SYLLABUS_*`` variables and ``.env``.

Every setting has a working default; the CLI's flags override them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexes import ChunkerParams, Embedder, FusionWeights, IndexReader
from indexes.embedder import (
    DEFAULT_BACKEND,
    DEFAULT_MODEL,
    Backend,
    SentenceTransformerEmbedder,
)
from indexes.writer import DEFAULT_HNSW_THRESHOLD
from ingest.parsing import ParseBudget, Parser
from ingest.pipeline import Pipeline
from service.answering import AnswerPolicy, GroundingChecker
from service.answering.verify import DEFAULT_SUPPORT_THRESHOLD
from service.course import Strategy, TeachingMode, check_site
from service.generation.models import DEFAULT_MODEL as DEFAULT_GENERATION_MODEL
from service.generation.models import ModelName
from service.paths import DATA_HOME, MODELS_DIR
from service.schemas import AnswerStyle

_ORIGIN = re.compile(r"https?://[^\s/?#@]+")
MIN_KEY_CHARS = 16
MiB = 1024 * 1024
# The measured defaults live with the parts they tune; the settings read them from there.
_POLICY = AnswerPolicy()
_FUSION = FusionWeights()
_PARSE = ParseBudget()


def _comma_separated(value: object) -> object:
    """A comma-separated variable as a list (a JSON list is accepted too)."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Syllabus configuration; each field is documented in the README."""

    model_config = SettingsConfigDict(
        env_prefix="SYLLABUS_", env_file=".env", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(
        DATA_HOME / "collections",
        description="Folder holding one index directory per collection.",
    )
    collection: str = Field("default", description="Collection used when a request names none.")
    embedding_model: str = Field(
        DEFAULT_MODEL,
        description="Sentence-transformers model: a packaged model name or a model directory.",
    )
    # int8 kept SQuAD dev hit@5 (0.9636 vs 0.9632 torch) at ~2x the speed (BENCHMARKS.md).
    embedding_backend: Backend = Field(
        DEFAULT_BACKEND,
        description="How the embedder runs: 'onnx-int8' (int8 ONNX model built from the same "
        "weights at first use and cached) or 'torch' (float32).",
    )
    embedding_cache_dir: Path = Field(
        MODELS_DIR, description="Folder where the int8 ONNX embedder is built and kept."
    )
    chunk_tokens: int = Field(
        200, ge=32, le=254, description="Largest chunk, in the embedder's word pieces."
    )
    overlap_tokens: int = Field(
        32, ge=0, le=128, description="Word pieces repeated between neighbouring chunks."
    )
    hnsw_threshold: int = Field(
        DEFAULT_HNSW_THRESHOLD,
        ge=1,
        description="Chunk count from which FAISS uses HNSW instead of exact search.",
    )
    dense_weight: float = Field(
        _FUSION.dense, ge=0, description="Weight of the dense ranking in RRF fusion."
    )
    lexical_weight: float = Field(
        _FUSION.lexical, ge=0, description="Weight of the BM25 ranking in RRF fusion."
    )
    rrf_k: int = Field(_FUSION.rrf_k, ge=1, description="Rank offset k of reciprocal rank fusion.")
    search_candidates: int = Field(
        _FUSION.candidates,
        ge=1,
        le=1000,
        description="Candidates taken from each retriever before fusion.",
    )
    ingest_wait_seconds: float = Field(
        0.0, ge=0, description="How long an ingestion waits for another one on the same index."
    )
    # Measured (BENCHMARKS.md, Reliability): papers parse in 0.1-2 s, the largest upload
    # (25 MB of 2.6 million paragraphs) in 35 s and 800 MB; a poison PDF, 20 s a page.
    ingest_parse_seconds: float = Field(
        _PARSE.seconds,
        gt=0,
        le=3600,
        description="Seconds one file may take to parse (in a worker process); past them it "
        "fails, and is not parsed again until it changes or this is raised.",
    )
    ingest_parse_memory_mb: int = Field(
        _PARSE.memory_mb,
        ge=256,
        le=1_048_576,
        description="Megabytes of memory the worker process that parses a file may use; a "
        "file that needs more fails, and is not parsed again until it changes or this is raised.",
    )

    host: str = Field("127.0.0.1", description="Address `syllabus serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `syllabus serve` listens on.")
    header_timeout: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Seconds a connection has to send a request's headers; then it is closed.",
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="Connections `syllabus serve` keeps open at once (at most what the "
        "descriptor limit leaves room for); when full, the one waiting longest without a "
        "request is closed to make room.",
    )
    generator: Literal["embedded", "openai"] = Field(
        "embedded",
        description="'embedded' runs a GGUF with llama.cpp in-process; 'openai' calls a server.",
    )
    model: ModelName = Field(
        DEFAULT_GENERATION_MODEL,
        description="Packaged GGUF the embedded generator runs: 'qwen2.5-coder-0.5b', "
        "'qwen2.5-coder-1.5b' (assembled from their part packages at first use) or "
        "'smollm2-135m'.",
    )
    model_path: Path | None = Field(
        None, description="Any GGUF file for the embedded generator; overrides SYLLABUS_MODEL."
    )
    model_cache_dir: Path = Field(
        MODELS_DIR,
        description="Folder where packaged models in parts are assembled and kept (gguf/).",
    )
    n_ctx: int = Field(2048, ge=512, le=32768, description="Context window of the embedded model.")
    n_threads: int | None = Field(
        None, ge=1, description="CPU threads for the embedded model (default: all cores)."
    )
    cpu_variant: str | None = Field(
        None,
        pattern=r"^[a-z0-9_.]+$",
        description="llama.cpp CPU kernels to run (haswell, zen4, sapphirerapids...; "
        "default: the best this CPU supports).",
    )
    flash_attention: bool = Field(
        True,
        description="Flash attention in the embedded model: faster prompts and answers on "
        "CPU (BENCHMARKS, 'Generation speed').",
    )
    queue_size: int = Field(
        8, ge=1, le=1024, description="Generation requests that may wait; beyond, 503."
    )
    openai_base_url: str = Field(
        "http://127.0.0.1:8001/v1", description="Base URL of the OpenAI-compatible server."
    )
    openai_model: str = Field("default", description="Model name sent to that server.")
    openai_api_key: SecretStr | None = Field(None, description="API key for that server.")
    openai_timeout: float = Field(60.0, gt=0, description="Seconds before a remote call fails.")
    answer_strategy: Strategy = Field(
        _POLICY.answer_strategy,
        description="auto: quote the best passage unit at once, generate, verify, keep the "
        "quote if the generated answer is not supported; or force one strategy.",
    )
    answer_style: AnswerStyle = Field(
        _POLICY.answer_style, description="Style of a question that names none: explain or short."
    )
    teaching_mode: TeachingMode = Field(
        _POLICY.teaching_mode,
        description="answer, or guide: a request for a worked solution gets the concept, a "
        "next step and where the notes explain it, not the solution.",
    )
    prompt_passages: int = Field(
        _POLICY.prompt_passages,
        ge=1,
        le=20,
        description="Passages the model reads to write an answer.",
    )
    max_passage_chars: int = Field(
        _POLICY.max_passage_chars,
        ge=200,
        le=8000,
        description="Characters of each passage the model reads.",
    )
    abstain_threshold: float = Field(
        _POLICY.abstain_threshold,
        ge=-1,
        le=1,
        description="Abstain when the best passage's cosine similarity is below this.",
    )
    support_threshold: float = Field(
        DEFAULT_SUPPORT_THRESHOLD,
        ge=0,
        le=1,
        description="Support score from which an answer sentence counts.",
    )
    min_supported_ratio: float = Field(
        _POLICY.min_supported_ratio,
        ge=0,
        le=1,
        description="Share of supported sentences a generated answer needs.",
    )
    max_answer_tokens: int = Field(
        _POLICY.max_answer_tokens,
        ge=16,
        le=2048,
        description="Most tokens the generator may produce per answer.",
    )
    max_body_bytes: int = Field(
        262_144, ge=1024, description="Largest accepted request body, in bytes."
    )
    # NoDecode: the variable is a comma-separated list, not JSON (JSON is accepted too).
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) whose pages may call the API, "
        "comma-separated; none: same-origin only.",
    )

    source_urls: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per collection, source prefix -> the public URL prefix (or template "
        'with {path} or {stem}) of those documents, as JSON: {"default": {"corpus/": '
        '"https://course.example.org/notes/{stem}.html"}}. Citations then link there.',
    )

    question_log: bool = Field(
        _POLICY.question_log,
        description="Log every question (text, time, mode, score, cited documents, latency; "
        "never who asked) for `syllabus insights`; a collection's course.json may override.",
    )
    question_log_days: int = Field(
        90, ge=1, le=3650, description="Days logged questions and ratings are kept."
    )

    admin_api: bool = Field(
        False,
        description="Serve the document endpoints (/v1/documents, /v1/reindex, /v1/jobs); "
        "needs SYLLABUS_ADMIN_API_KEYS.",
    )
    admin_api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Bearer keys of the document endpoints, comma-separated, "
        f"each at least {MIN_KEY_CHARS} characters.",
    )
    require_ask_key: bool = Field(
        False,
        description="Require a bearer key (an ask key or an admin key) on /v1/ask, "
        "/v1/chat/completions and /v1/search.",
    )
    ask_api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Bearer keys accepted for asking, comma-separated; a request with one "
        "is rate-limited per key rather than per address.",
    )
    # One address can be a whole classroom behind NAT: generous by default.
    rate_limit_per_minute: float = Field(
        60,
        ge=0,
        description="Questions per minute (/v1/ask, /v1/chat/completions) per key or client "
        "address; 0 turns rate limiting off.",
    )
    rate_limit_burst: int = Field(
        20, ge=1, description="Questions a key or address may ask at once before the rate applies."
    )
    max_upload_bytes: int = Field(25 * MiB, ge=1024, description="Largest uploaded file, in bytes.")
    max_upload_request_bytes: int = Field(
        100 * MiB, ge=1024, description="Largest upload request (all its files), in bytes."
    )
    max_upload_files: int = Field(
        20, ge=1, le=1000, description="Most files in one upload request."
    )

    @field_validator("cors_origins", "admin_api_keys", "ask_api_keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _comma_separated(value)

    @field_validator("admin_api_keys", "ask_api_keys")
    @classmethod
    def _strong_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        if any(len(key.get_secret_value()) < MIN_KEY_CHARS for key in keys):
            raise ValueError(f"every key must have at least {MIN_KEY_CHARS} characters")
        return keys

    @model_validator(mode="after")
    def _keys_for_protected_endpoints(self) -> Settings:
        # Refuse to start rather than serve the document endpoints, or a "protected"
        # /v1/ask, to anyone.
        if self.admin_api and not self.admin_api_keys:
            raise ValueError(
                "SYLLABUS_ADMIN_API is on but SYLLABUS_ADMIN_API_KEYS is empty: "
                "set at least one admin key, or turn the document endpoints off"
            )
        if self.require_ask_key and not (self.ask_api_keys or self.admin_api_keys):
            raise ValueError(
                "SYLLABUS_REQUIRE_ASK_KEY is on but no key is set: "
                "set SYLLABUS_ASK_API_KEYS (or SYLLABUS_ADMIN_API_KEYS)"
            )
        return self

    @field_validator("source_urls")
    @classmethod
    def _web_addresses(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for collection, prefixes in value.items():
            for prefix, site in prefixes.items():
                try:
                    check_site(prefix, site)
                except ValueError as exc:
                    raise ValueError(f"{collection} {exc}") from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        # Browsers send the origin lower-cased and without a trailing slash.
        cleaned = [origin.strip().rstrip("/").lower() for origin in origins]
        wrong = [origin for origin in cleaned if not _ORIGIN.fullmatch(origin)]
        if wrong:
            raise ValueError(f"not an origin (scheme://host[:port]): {', '.join(wrong)}")
        return cleaned

    def collection_for(self, name: str | None) -> str:
        """The collection a request or command means: the one it names, else the default."""
        return name or self.collection

    def embedder(self) -> SentenceTransformerEmbedder:
        """The configured embedder, not loaded yet."""
        return SentenceTransformerEmbedder(
            self.embedding_model,
            backend=self.embedding_backend,
            cache_dir=self.embedding_cache_dir,
        )

    def parse_budget(self) -> ParseBudget:
        return ParseBudget(seconds=self.ingest_parse_seconds, memory_mb=self.ingest_parse_memory_mb)

    def chunker(self) -> ChunkerParams:
        return ChunkerParams(chunk_tokens=self.chunk_tokens, overlap_tokens=self.overlap_tokens)

    def fusion(self) -> FusionWeights:
        return FusionWeights(
            dense=self.dense_weight,
            lexical=self.lexical_weight,
            rrf_k=self.rrf_k,
            candidates=self.search_candidates,
        )

    def pipeline(
        self, embedder: Embedder, chunker: ChunkerParams | None = None, parser: Parser | None = None
    ) -> Pipeline:
        """The ingestion pipeline as configured; ``chunker`` and ``parser`` replace the
        configured chunking and the parse worker."""
        return Pipeline(
            embedder,
            chunker or self.chunker(),
            hnsw_threshold=self.hnsw_threshold,
            budget=self.parse_budget(),
            parser=parser,
        )

    def reader(self, root: Path, embedder: Embedder) -> IndexReader:
        """The index under ``root``, searched with the configured fusion."""
        return IndexReader(root, embedder, self.fusion())

    def checker(self, embedder: Embedder) -> GroundingChecker:
        return GroundingChecker(embedder, self.support_threshold)

    def policy(self, **changes: Any) -> AnswerPolicy:
        """The configured answering policy, with ``changes`` (AnswerPolicy's fields)."""
        configured = {
            "answer_strategy": self.answer_strategy,
            "abstain_threshold": self.abstain_threshold,
            "answer_style": self.answer_style,
            "teaching_mode": self.teaching_mode,
            "question_log": self.question_log,
            "min_supported_ratio": self.min_supported_ratio,
            "max_answer_tokens": self.max_answer_tokens,
            "prompt_passages": self.prompt_passages,
            "max_passage_chars": self.max_passage_chars,
        }
        return AnswerPolicy(**(configured | changes))
