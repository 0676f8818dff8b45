"""The widget's files, the demo page, and cross-origin calls, with fake models."""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from service import katex
from service.app import create_app
from service.routes.widget import WIDGET_DIR
from service.schemas import ErrorBody
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.paths import PROJECT
from tests.service.fakes import FakeGenerator, ingest_notes

COURSE = "https://course.example.org"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


@pytest.fixture
def cors_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "collections", cors_origins=[COURSE])
    ingest_notes(settings.data_dir)
    app = create_app(settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "media_type"), [("/widget.js", "text/javascript"), ("/widget.css", "text/css")]
)
def test_widget_files_are_cached_and_revalidated(
    client: TestClient, path: str, media_type: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["cache-control"] == "public, max-age=300"
    etag = response.headers["etag"]

    again = client.get(path, headers={"If-None-Match": f'"stale", W/{etag}'})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200
    assert client.head(path).status_code == 200


def test_katex_is_served_beside_the_widget(client: TestClient) -> None:
    """Its script, stylesheet and WOFF2 fonts, and the page's @font-face rules alone."""
    assert katex.installed() is not None, "`make install` installs KaTeX"
    script = client.get("/widget/katex/katex.min.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"katex" in script.content
    assert client.get("/widget/katex/katex.min.css").headers["content-type"].startswith("text/css")
    fonts = client.get("/widget/katex/fonts.css")
    rules = fonts.text.splitlines()
    assert len(rules) >= 10 and all(r.startswith("@font-face{") for r in rules)
    assert ".katex" not in fonts.text and "woff)" not in fonts.text and "ttf" not in fonts.text
    font = client.get("/widget/katex/fonts/KaTeX_Main-Regular.woff2")
    assert font.status_code == 200 and font.headers["content-type"] == "font/woff2"
    assert font.headers["access-control-allow-origin"] == "*"  # fonts load in CORS mode


@pytest.mark.parametrize(
    "name",
    ["LICENSE", "fonts/KaTeX_Main-Regular.ttf", "../katex.py", "fonts%2F..%2F..%2Fa.py", "x.js"],
)
def test_nothing_else_of_katex_is_served(client: TestClient, name: str) -> None:
    response = client.get(f"/widget/katex/{name}")
    assert response.status_code == 404
    ErrorBody.model_validate(response.json())


def test_the_demo_page_embeds_the_widget(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'self'
    assert '<script src="/widget.js" data-title="Ask the course" async></script>' in response.text


def test_the_widget_files_ship_as_package_data() -> None:
    config = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["service"]
    files = sorted(p.name for p in WIDGET_DIR.iterdir() if p.is_file())
    assert {"widget.js", "widget.css", "index.html"} <= set(files)
    assert [f for f in files if not any(fnmatch.fnmatch(f"widget/{f}", p) for p in patterns)] == []


def test_without_origins_no_cross_origin_call_is_allowed(client: TestClient) -> None:
    preflight = client.options("/v1/ask", headers={"Origin": COURSE, **PREFLIGHT})
    assert "access-control-allow-origin" not in preflight.headers
    asked = client.post("/v1/ask", json={"question": "What is LoRA?"}, headers={"Origin": COURSE})
    assert asked.status_code == 200
    assert "access-control-allow-origin" not in asked.headers


def test_a_listed_origin_may_call_the_api(cors_client: TestClient) -> None:
    preflight = cors_client.options("/v1/ask", headers={"Origin": COURSE, **PREFLIGHT})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == COURSE
    asked = cors_client.post(
        "/v1/ask", json={"question": "What is LoRA's rank?"}, headers={"Origin": COURSE}
    )
    assert asked.status_code == 200
    assert asked.headers["access-control-allow-origin"] == COURSE
    assert asked.headers["access-control-expose-headers"] == "Retry-After"
    # Errors carry the headers too, so that the widget can read their message.
    invalid = cors_client.post("/v1/ask", json={"question": " "}, headers={"Origin": COURSE})
    assert invalid.status_code == 422
    assert invalid.headers["access-control-allow-origin"] == COURSE


def test_an_unlisted_origin_is_refused_with_the_error_body(cors_client: TestClient) -> None:
    elsewhere = "https://elsewhere.example.com"
    preflight = cors_client.options("/v1/ask", headers={"Origin": elsewhere, **PREFLIGHT})
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    error = ErrorBody.model_validate(preflight.json()).error
    assert error.code == "cross_origin_refused"
    assert error.message == f"cross-origin request from {elsewhere} refused (origin not allowed)"


def test_origins_are_read_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYLLABUS_CORS_ORIGINS", f"{COURSE}/, HTTP://LMS.example.edu:8443")
    assert Settings().cors_origins == [COURSE, "http://lms.example.edu:8443"]
    monkeypatch.setenv("SYLLABUS_CORS_ORIGINS", f'["{COURSE}"]')
    assert Settings().cors_origins == [COURSE]
    monkeypatch.setenv("SYLLABUS_CORS_ORIGINS", "")
    assert Settings().cors_origins == []


@pytest.mark.parametrize("wrong", ["*", "course.example.org", f"{COURSE}/lessons", "ftp://x.org"])
def test_anything_but_an_origin_is_rejected(wrong: str) -> None:
    with pytest.raises(ValidationError, match="not an origin"):
        Settings(cors_origins=[wrong])
