"""Service fixtures: a fake generator, and apps over a small fake-embedded collection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import FakeGenerator, ingest_notes
from tests.service.keys import ADMIN_KEY, ASK_KEY


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Rate limits are off here (some tests ask many questions); test_limits.py tests them.
    return Settings(
        data_dir=tmp_path / "collections",
        abstain_threshold=0.2,
        answer_strategy="auto",
        rate_limit_per_minute=0,
    )


@pytest.fixture
def fake_generator() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture
def client(settings: Settings, fake_generator: FakeGenerator) -> Iterator[TestClient]:
    ingest_notes(settings.data_dir)
    app = create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin_settings(settings: Settings) -> Settings:
    """The test settings with the document endpoints on, an admin key and an ask key."""
    return settings.model_copy(
        update={
            "admin_api": True,
            "admin_api_keys": [SecretStr(ADMIN_KEY)],
            "ask_api_keys": [SecretStr(ASK_KEY)],
        }
    )


@pytest.fixture
def admin_client(admin_settings: Settings, fake_generator: FakeGenerator) -> Iterator[TestClient]:
    ingest_notes(admin_settings.data_dir)
    app = create_app(admin_settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as test_client:
        yield test_client
