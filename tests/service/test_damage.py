"""One damaged collection never stops the service: it answers 503, the others serve."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.schemas import ErrorBody
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.indexes.test_damage import FILES
from tests.service.fakes import FakeGenerator, ingest_notes

ASK = {"question": "How does Adam correct its bias?"}


def _unavailable(response: object, settings: Settings) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    error = ErrorBody.model_validate(response.json()).error  # type: ignore[attr-defined]
    assert error.code == "collection_unavailable" and "broken" in error.message
    assert str(settings.data_dir) not in error.message


@pytest.mark.parametrize("name", [*FILES, "CURRENT"])
def test_a_damaged_collection_is_unavailable_and_the_others_serve(
    settings: Settings, name: str
) -> None:
    ingest_notes(settings.data_dir)
    ingest_notes(settings.data_dir, "broken")
    folder = settings.data_dir / "broken"
    damaged = folder / name if name == "CURRENT" else folder / "versions" / "1" / name
    damaged.write_bytes(b"" if name != "CURRENT" else b"abc")
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    with TestClient(app) as client:  # it starts
        assert client.post("/v1/ask", json=ASK).status_code == 200
        listed = client.get("/v1/collections")  # a damaged manifest is left out of the list
        assert listed.status_code == 200
        assert "default" in [c["name"] for c in listed.json()["collections"]]
        if name != "CURRENT":  # a damaged pointer alone still finds version 1
            _unavailable(client.post("/v1/ask", json=ASK | {"collection": "broken"}), settings)
            search = {"query": "Adam", "collection": "broken"}
            _unavailable(client.post("/v1/search", json=search), settings)
        else:
            broken = client.post("/v1/ask", json=ASK | {"collection": "broken"})
            assert broken.status_code == 200


def test_a_store_damaged_while_serving_is_a_503_not_a_500(settings: Settings) -> None:
    ingest_notes(settings.data_dir)
    ingest_notes(settings.data_dir, "broken")
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    with TestClient(app) as client:
        assert client.post("/v1/search", json={"query": "Adam", "collection": "broken"}).is_success
        store = Path(settings.data_dir / "broken" / "versions" / "1" / "chunks.sqlite")
        store.write_bytes(b"\x00" * 4096)
        search = client.post("/v1/search", json={"query": "Adam", "collection": "broken"})
        assert search.status_code in (200, 503)  # pages SQLite had cached may still answer
        if search.status_code == 503:
            assert search.json()["error"]["code"] == "collection_unavailable"
        assert client.post("/v1/search", json={"query": "Adam"}).status_code == 200
