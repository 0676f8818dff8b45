"""Dependencies of the route handlers, as ``Annotated`` aliases; tests override them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.answering import Answerer
from service.errors import NotReady
from service.library import Library
from service.metrics import Metrics
from service.settings import Settings


def _state(request: Request, name: str) -> object:
    value = getattr(request.app.state, name, None)
    if value is None:
        raise NotReady(f"the service is still starting ({name} not loaded)")
    return value


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_library(request: Request) -> Library:
    return _state(request, "library")  # type: ignore[return-value]


def get_answerer(request: Request) -> Answerer:
    return _state(request, "answerer")  # type: ignore[return-value]


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
LibraryDep = Annotated[Library, Depends(get_library)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
