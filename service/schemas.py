"""Wire schemas, named by role; every field typed and bounded."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonDict

from indexes.scope import Scope

if TYPE_CHECKING:
    from collections.abc import Iterable

    from indexes import Hit
    from indexes.collections import CollectionInfo

MAX_QUESTION_CHARS = 2000
MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 8000

Mode = Literal["generative", "extractive", "abstained"]
AnswerStyle = Literal["explain", "short"]
CollectionName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# One character that is not blank. Spelled out because "\S" differs between Python
# (where \x1c-\x1f and \x85 are whitespace) and JSON Schema's ECMA regexes (where
# \ufeff is): the schema documents exactly what ``_not_blank`` checks.
NOT_BLANK_CHAR = (
    r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)
NOT_BLANK: JsonDict = {"pattern": NOT_BLANK_CHAR}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_blank(value: str) -> str:
    if re.search(NOT_BLANK_CHAR, value) is None:
        raise ValueError("must not be empty or whitespace")
    return value.strip()


class ChatTurn(Strict):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN_CHARS)


# What the validator below checks, for the API's schema: at least one part is given.
_NAMES_A_PART: JsonDict = {
    "anyOf": [
        {"required": ["documents"], "properties": {"documents": {"minItems": 1}}},
        {"required": ["source_prefix"], "properties": {"source_prefix": {"type": "string"}}},
        {"required": ["heading_prefix"], "properties": {"heading_prefix": {"minItems": 1}}},
        {"required": ["page"], "properties": {"page": {"type": "string"}}},
    ]
}


class SearchScope(Strict):
    """The part of the collection to search: every part given must hold."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_NAMES_A_PART)

    documents: list[Annotated[str, StringConstraints(min_length=1, max_length=1000)]] = Field(
        default_factory=list,
        max_length=100,
        description="Documents by id or by source (as /v1/documents lists them).",
    )
    source_prefix: str | None = Field(
        None, min_length=1, max_length=1000, description="Sources that start with this: a folder."
    )
    heading_prefix: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(
        default_factory=list,
        max_length=12,
        description="A section: passages whose heading path starts with these headings "
        '(case-blind), e.g. ["Attention", "Scaled Dot-Product Attention"].',
    )

    page: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        # Control characters and spaces spelled out: Python's \s and the fuzzer's (and
        # ECMA's, which JSON Schema readers use) differ on \x1c-\x1f and \x85.
        pattern=r"^https?://[^\x00-\x20\x7f/?#\[\]@]+([/?#][^\x00-\x20\x7f]*)?$",
        description="The documents published at this page (SYLLABUS_SOURCE_URLS): the "
        'widget\'s data-scope="page" sends the page it is on.',
    )

    @field_validator("page")
    @classmethod
    def _a_web_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                host = urlsplit(value).hostname
            except ValueError as exc:  # "http://[": an unclosed IPv6 address
                raise ValueError(f"not a web address: {exc}") from None
            if not host:
                raise ValueError("not a web address: it names no host")
        return value

    @model_validator(mode="after")
    def _names_something(self) -> SearchScope:
        if not (self.documents or self.source_prefix or self.heading_prefix or self.page):
            raise ValueError("a scope names documents, a source_prefix, a heading_prefix or a page")
        return self

    def to_scope(self) -> Scope:
        return Scope(tuple(self.documents), self.source_prefix, tuple(self.heading_prefix))


class AskRequest(Strict):
    question: str = Field(
        max_length=MAX_QUESTION_CHARS,
        description="The learner's question.",
        json_schema_extra=NOT_BLANK,
    )
    top_k: int = Field(5, ge=1, le=20, description="Passages retrieved for the answer.")
    history: list[ChatTurn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS)
    # Strict: "stream": 1 or 0.0 is a client's mistake to hear about, not a guess.
    stream: StrictBool = Field(False, description="Answer as server-sent events.")
    collection: CollectionName | None = None
    scope: SearchScope | None = Field(None, description="Answer from this part only.")
    style: AnswerStyle | None = Field(
        None,
        description="explain: two to four sentences a learner understands; short: the "
        "shortest span that answers. Default: the collection's answer_style (explain).",
    )

    _question = field_validator("question")(_not_blank)


class SearchRequest(Strict):
    query: str = Field(max_length=MAX_QUESTION_CHARS, json_schema_extra=NOT_BLANK)
    top_k: int = Field(5, ge=1, le=50)
    collection: CollectionName | None = None
    scope: SearchScope | None = Field(None, description="Search this part only.")
    history: list[ChatTurn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="The conversation before the query: a follow-up is searched after the "
        "learner's last turn, as /v1/ask searches it.",
    )

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
    start: int = Field(description="Where the passage starts in the document's source text.")
    end: int = Field(description="Where it ends (exclusive).")
    sentence_start: int | None = Field(
        None,
        description="Where the passage sentence the answer rests on starts in the source "
        "text (Markdown and text documents whose file is unchanged; else null).",
    )
    sentence_end: int | None = Field(None, description="Where that sentence ends (exclusive).")
    url: str | None = Field(
        None,
        description="Where a learner can open it: the document's public URL with an anchor "
        "for its section or page (SYLLABUS_SOURCE_URLS), or null when none is known.",
    )


class SentenceGrounding(BaseModel):
    text: str
    citations: list[int]
    support: float = Field(description="0-1: how well the passages support this sentence.")
    supported: bool
    unsupported_terms: list[str] = Field(
        default_factory=list,
        description="Names and numbers of the sentence that its passages do not contain, "
        "and a negation it adds to or drops from the passage sentence it copies.",
    )
    model_citations: list[int] = Field(
        default_factory=list,
        description="The citations the model wrote, when verification moved them to the "
        "passage that holds the sentence (empty when they stand).",
    )


class Grounding(BaseModel):
    sentences: list[SentenceGrounding]
    supported_ratio: float
    reason: str = Field(description="Why the answer has its mode.")
    best_passage_score: float | None = Field(
        None, description="Dense similarity of the best passage, compared with the threshold."
    )
    abstain_threshold: float
    rejected_answer: str | None = Field(
        None,
        description="The generated answer that verification (or the model's own refusal) "
        "kept from being shown, for review.",
    )


class Timings(BaseModel):
    retrieval_ms: float
    first_token_ms: float | None = Field(
        description="When the first answer content was ready: the draft, or the first token."
    )
    generated_first_token_ms: float | None = Field(
        None, description="When the model's first token came, if a model wrote the answer."
    )
    total_ms: float


class Quote(BaseModel):
    """The notes' own words beneath a generated answer: the unit it was written from."""

    text: str
    citation: int = Field(description="The citation (``n``) the words are taken from.")


class AskResponse(BaseModel):
    answer_id: str = Field(description="The answer's id, for POST /v1/feedback.")
    answer: str
    mode: Mode
    citations: list[Citation]
    quotes: list[Quote] = Field(
        default_factory=list,
        description="With a generated `explain` answer: the passages' own words beneath "
        "it (the draft's units, then a further one), each when it says more than the "
        "answer does; empty otherwise.",
    )
    grounding: Grounding
    timings: Timings
    model: str
    collection: str
    guided: bool = Field(
        False,
        description="Teaching mode guide withheld a worked solution: the answer gives the "
        "idea, a hint and where the notes explain it.",
    )


class FeedbackRequest(Strict):
    answer_id: str = Field(min_length=1, max_length=64, description="From the answer.")
    helpful: StrictBool
    comment: str | None = Field(None, max_length=500, description="Optional, a sentence or two.")
    collection: CollectionName | None = None


class FeedbackResponse(BaseModel):
    answer_id: str
    helpful: bool
    stored: bool = True


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
    start: int = Field(description="Where the passage starts in the document's source text.")
    end: int = Field(description="Where it ends (exclusive).")
    url: str | None = Field(None, description="Where to open it, as in a citation.")

    @classmethod
    def of(cls, hit: Hit, url: str | None = None) -> SearchHit:
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
            start=chunk.start,
            end=chunk.end,
            url=url,
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

    @classmethod
    def listing(cls, found: Iterable[CollectionInfo]) -> CollectionsResponse:
        """The collections as the public sees them (``GET /v1/collections``, MCP)."""
        return cls(
            collections=[
                CollectionPublic(
                    name=c.name,
                    documents=c.documents,
                    chunks=c.chunks,
                    version=c.version,
                    last_ingested=c.last_ingested,
                )
                for c in found
            ]
        )


class CoursePublic(BaseModel):
    """What a course page's widget shows of its collection's settings."""

    collection: str
    title: str | None = Field(description="The widget's title; null: the widget's own.")
    greeting: str | None = Field(description="The widget's greeting; null: the widget's own.")
    teaching_mode: Literal["answer", "guide"]
    answer_style: AnswerStyle


class CourseConfigResponse(BaseModel):
    """A collection's own settings and the values in force with the global ones."""

    collection: str
    config: dict[str, Any] = Field(description="The keys its course.json sets.")
    effective: dict[str, Any] = Field(description="Every course setting as it applies.")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class DocumentPublic(BaseModel):
    id: str = Field(description="Document id, for DELETE /v1/documents/{id}.")
    source: str = Field(description="Where it came from: uploads/NAME, or FOLDER/PATH.")
    title: str
    pages: int | None = Field(description="Last page with text, for PDFs; null otherwise.")
    chunks: int
    sha256: str
    ingested_at: str
    uploaded: bool = Field(description="Uploaded through the API (else ingested from a folder).")


class FailedFilePublic(BaseModel):
    id: str = Field(description="The id it has as a document, for DELETE /v1/documents/{id}.")
    source: str = Field(description="Where it is: uploads/NAME, or FOLDER/PATH.")
    sha256: str = Field(description="The content that failed: it is not parsed again until "
                        "the file changes (or, after running out of time or memory, until "
                        "the parse budget is raised).")  # fmt: skip
    reason: str = Field(description="Why it could not be ingested.")
    failed_at: str
    uploaded: bool = Field(description="Uploaded through the API (else found in a folder).")


class DocumentsResponse(BaseModel):
    collection: str
    index_version: int = Field(description="The version served; 0 when none is published yet.")
    documents: list[DocumentPublic]
    failed: list[FailedFilePublic] = Field(
        default_factory=list,
        description="Files that could not be ingested, with the reason; a previous version of "
        "one may still be among the documents.",
    )


class FileResultPublic(BaseModel):
    source: str
    outcome: Literal["added", "updated", "unchanged", "removed", "failed"]
    reason: str | None = Field(None, description="Why a file failed.")


class JobPublic(BaseModel):
    id: str
    kind: Literal["upload", "delete", "reindex"]
    collection: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    files: list[str] = Field(description="Files stored by the request that started the job.")
    created_at: str
    started_at: str | None
    finished_at: str | None
    total: int | None = Field(description="Files the job looks at, once known.")
    done: int = Field(description="Files looked at so far.")
    current: str | None = Field(description="The file being ingested.")
    results: list[FileResultPublic] = Field(description="Per file, once the job has finished.")
    version: int | None = Field(description="Index version the job published, if any.")
    error: str | None = Field(description="Why the job failed, or was cancelled.")


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` declaring that these statuses answer with ``ErrorBody``."""
    return {status: {"model": ErrorBody} for status in statuses}
