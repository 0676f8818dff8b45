"""Start-up: every collection is opened before the service says it is ready."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from eval.bench.coldstart import parse_startup
from service.app import create_app
from service.components import components_of
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import FakeGenerator, ingest_notes


def test_ready_means_every_collection_is_open_and_the_log_says_what_it_cost(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    ingest_notes(settings.data_dir, "default")
    ingest_notes(settings.data_dir, "papers")
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    with caplog.at_level(logging.INFO, logger="service.components"), TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        assert "2 collection(s) open" in caplog.text
        parts = parse_startup(caplog.text)
        assert set(parts) == {"lifespan", "collections"}  # no model was loaded here
        assert 0 <= parts["collections"] <= parts["lifespan"]
        opened = components_of(app).library._readers
        assert set(opened) == {"default", "papers"}


def test_a_collection_that_cannot_be_opened_does_not_stop_the_others(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    ingest_notes(settings.data_dir, "default")
    ingest_notes(settings.data_dir, "broken")
    manifests = list((settings.data_dir / "broken").glob("versions/*/manifest.json"))
    assert manifests
    for manifest in manifests:
        manifest.write_text("{not json", encoding="utf-8")
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    with caplog.at_level(logging.INFO), TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        assert "collection 'broken' not opened at start" in caplog.text
        found = client.post("/v1/search", json={"query": "attention", "collection": "default"})
        assert found.status_code == 200 and found.json()["hits"]
        broken = client.post("/v1/search", json={"query": "attention", "collection": "broken"})
        assert broken.status_code == 503
        error = broken.json()["error"]
        assert error["code"] == "collection_unavailable"
        assert "'broken'" in error["message"] and "manifest" in error["message"]
