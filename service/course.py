"""Each collection's own settings: ``course.json`` in its folder, over the global ones.

Course staff set how the assistant behaves for their course; a key the file does not
set takes the global setting (``SYLLABUS_*``). The file is written by
``syllabus collections config NAME KEY=VALUE…`` or ``PATCH /v1/collections/NAME/config``
(both validate first and replace the file atomically) and may be edited by hand: an
invalid file makes its collection unavailable (503, naming the file and the field),
never a silent default. It is read again whenever it changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from indexes.files import write_atomically
from service.generation.factory import default_model_name
from service.generation.models import MODELS
from service.schemas import AnswerStyle

if TYPE_CHECKING:
    from service.settings import Settings

COURSE_FILE = "course.json"
MAX_CONFIG_BYTES = 64 * 1024
_NO_CONTROL = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"  # text a page shows: no control characters

TeachingMode = Literal["answer", "guide"]
Strategy = Literal["auto", "generative", "extractive"]


def check_site(prefix: str, site: str) -> None:
    """Raise ``ValueError`` unless ``site`` is an http(s) URL prefix or a template with
    only ``{path}`` and ``{stem}``."""
    if not re.match(r"https?://[^/\s]+", site):
        raise ValueError(f"{prefix!r}: {site!r} is not an http(s) URL")
    try:
        site.format(path="", stem="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{prefix!r}: a template may use only {{path}} and {{stem}}") from exc


class CourseConfig(BaseModel):
    """A collection's own settings; every key is optional (README, "Courses")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    abstain_threshold: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="Abstain when the best passage's cosine similarity is below this "
        "(calibrate it: `syllabus eval calibrate --collection NAME`).",
    )
    answer_strategy: Strategy | None = Field(
        None, description="auto, generative or extractive (SYLLABUS_ANSWER_STRATEGY)."
    )
    answer_style: AnswerStyle | None = Field(
        None, description="The style of a question that names none: explain or short."
    )
    model: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The model answering this course: a packaged model for the embedded "
        "generator, the server's model name for an OpenAI-compatible one.",
    )
    prompt_note: str | None = Field(
        None,
        max_length=400,
        pattern=_NO_CONTROL,
        description="An instruction of the course's own added to the model's system "
        "message (the course's level, its notation).",
    )
    source_urls: dict[str, str] | None = Field(
        None,
        description="Source prefix -> public URL prefix or template of this course's "
        "documents (overrides SYLLABUS_SOURCE_URLS for it).",
    )
    title: str | None = Field(
        None, max_length=80, pattern=_NO_CONTROL, description="The widget's title."
    )
    greeting: str | None = Field(
        None, max_length=500, pattern=_NO_CONTROL, description="The widget's greeting."
    )
    teaching_mode: TeachingMode | None = Field(
        None,
        description="answer, or guide: a request for a worked solution gets the concept, a "
        "next step and where the notes explain it, not the solution.",
    )
    question_log: bool | None = Field(
        None, description="Log every question for `syllabus insights` (off by default)."
    )
    question_log_days: int | None = Field(
        None, ge=1, le=3650, description="Days logged questions and ratings are kept."
    )

    @field_validator("source_urls")
    @classmethod
    def _sites(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for prefix, site in (value or {}).items():
            check_site(prefix, site)
        return value

    @field_validator("prompt_note", "title", "greeting")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def set_keys(self) -> dict[str, Any]:
        """The keys the file sets, as JSON values."""
        return self.model_dump(mode="json", exclude_none=True)


class CourseConfigInvalid(ValueError):
    """A ``course.json`` that cannot be used; the message names the file and the field."""


def _message(where: str, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        field = ".".join(str(p) for p in error.get("loc", ())) or "file"
        text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            text = "unknown key"
        parts.append(f"{field}: {text}")
    return f"{where} is invalid: " + "; ".join(parts)


def check_model(config: CourseConfig, generator: str, where: str) -> None:
    """An embedded generator runs packaged models only: name one of them."""
    if generator == "embedded" and config.model is not None and config.model not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise CourseConfigInvalid(f"{where} is invalid: model: not a packaged model ({known})")


def parse_value(text: str) -> object:
    """A ``KEY=VALUE`` value from the command line: JSON when it parses (numbers,
    true/false, objects), else the text itself; an empty value unsets the key."""
    if text == "":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@dataclass(frozen=True, slots=True)
class _Cached:
    stamp: tuple[int, int]
    config: CourseConfig


class Courses:
    """Reads and writes the ``course.json`` of collection folders, re-reading on change."""

    def __init__(self, generator: str = "embedded") -> None:
        self._generator = generator
        self._cache: dict[Path, _Cached] = {}

    def config(self, folder: Path) -> CourseConfig:
        """The folder's settings (empty when it has no file); ``CourseConfigInvalid``."""
        path = folder / COURSE_FILE
        try:
            stat = path.stat()
        except FileNotFoundError:
            return CourseConfig()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(folder)
        if cached is not None and cached.stamp == stamp:
            return cached.config
        config = self._read(path, stat.st_size)
        self._cache[folder] = _Cached(stamp, config)
        return config

    def _read(self, path: Path, size: int) -> CourseConfig:
        where = f"{path.parent.name}/{COURSE_FILE}"
        if size > MAX_CONFIG_BYTES:
            raise CourseConfigInvalid(f"{where} is invalid: larger than {MAX_CONFIG_BYTES} bytes")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CourseConfigInvalid(f"{where} is invalid: not readable JSON ({exc})") from exc
        if not isinstance(raw, dict):
            raise CourseConfigInvalid(f"{where} is invalid: not a JSON object")
        return self.validate(raw, where)

    def validate(self, raw: Mapping[str, object], where: str) -> CourseConfig:
        try:
            config = CourseConfig.model_validate(raw)
        except ValidationError as exc:
            raise CourseConfigInvalid(_message(where, exc)) from exc
        check_model(config, self._generator, where)
        return config

    def update(self, folder: Path, changes: Mapping[str, object]) -> CourseConfig:
        """Set (or, with ``None``, unset) keys and replace the file atomically; the file is
        written only when the result is valid. A damaged file may be repaired this way."""
        try:
            current = self.config(folder).set_keys()
        except CourseConfigInvalid:
            current = self._raw(folder)
        merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
        config = self.validate(merged, f"{folder.name}/{COURSE_FILE}")
        write_atomically(folder / COURSE_FILE, json.dumps(config.set_keys(), indent=2) + "\n")
        self._cache.pop(folder, None)
        return config

    @staticmethod
    def _raw(folder: Path) -> dict[str, Any]:
        """What can be kept of a damaged file: its keys, when it is a JSON object."""
        try:
            raw = json.loads((folder / COURSE_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return {}
        return raw if isinstance(raw, dict) else {}


def effective(settings: Settings, name: str, config: CourseConfig) -> dict[str, Any]:
    """Every course setting as it applies to collection ``name``: its own, else global."""
    defaults: dict[str, Any] = {
        "abstain_threshold": settings.abstain_threshold,
        "answer_strategy": settings.answer_strategy,
        "answer_style": settings.answer_style,
        "model": default_model_name(settings),
        "prompt_note": None,
        "source_urls": settings.source_urls.get(name, {}),
        "title": None,
        "greeting": None,
        "teaching_mode": settings.teaching_mode,
        "question_log": settings.question_log,
        "question_log_days": settings.question_log_days,
    }
    return defaults | config.set_keys()
