"""Wire schemas, named by role; every field typed and bounded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

if TYPE_CHECKING:
    from indexes import Hit

MAX_QUESTION_CHARS = 2000
MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 8000

Mode = Literal["generative", "extractive", "abstained"]
CollectionName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace")
    return value.strip()


class ChatTurn(Strict):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN_CHARS)


class AskRequest(Strict):
    question: str = Field(max_length=MAX_QUESTION_CHARS, description="The learner's question.")
    top_k: int = Field(5, ge=1, le=20, description="Passages retrieved for the answer.")
    history: list[ChatTurn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS)
    stream: bool = Field(False, description="Answer as server-sent events.")
    collection: CollectionName | None = None

    _question = field_validator("question")(_not_blank)


class SearchRequest(Strict):
    query: str = Field(max_length=MAX_QUESTION_CHARS)
    top_k: int = Field(5, ge=1, le=50)
    collection: CollectionName | None = None

    _query = field_validator("query")(_not_blank)


class Citation(BaseModel):
    n: int = Field(description="The number used as [n] in the answer text.")
    chunk_id: str
    source: str
    title: str
    page: int | None
    heading_path: list[str]
    snippet: str
    score: float


class SentenceGrounding(BaseModel):
    text: str
    citations: list[int]
    support: float = Field(description="0-1: how well the passages support this sentence.")
    supported: bool


class Grounding(BaseModel):
    sentences: list[SentenceGrounding]
    supported_ratio: float
    reason: str = Field(description="Why the answer has its mode.")
    best_passage_score: float | None = Field(
        None, description="Dense similarity of the best passage, compared with the threshold."
    )
    abstain_threshold: float


class Timings(BaseModel):
    retrieval_ms: float
    first_token_ms: float | None
    total_ms: float


class AskResponse(BaseModel):
    answer: str
    mode: Mode
    citations: list[Citation]
    grounding: Grounding
    timings: Timings
    model: str
    collection: str


class SearchHit(BaseModel):
    chunk_id: str
    text: str
    source: str
    title: str
    page: int | None
    heading_path: list[str]
    score: float
    dense_score: float | None
    lexical_score: float | None

    @classmethod
    def of(cls, hit: Hit) -> SearchHit:
        chunk = hit.chunk
        return cls(
            chunk_id=chunk.id,
            text=chunk.text,
            source=chunk.source,
            title=chunk.title,
            page=chunk.page,
            heading_path=list(chunk.heading_path),
            score=hit.score,
            dense_score=hit.dense_score,
            lexical_score=hit.lexical_score,
        )


class SearchResponse(BaseModel):
    hits: list[SearchHit]
    collection: str
    index_version: int


class CollectionPublic(BaseModel):
    name: str
    documents: int
    chunks: int
    version: int
    last_ingested: str


class CollectionsResponse(BaseModel):
    collections: list[CollectionPublic]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail
