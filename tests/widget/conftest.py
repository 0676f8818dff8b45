"""The chat widget in real Chromium, against a real `syllabus serve`.

One server (the demo corpus as ``default``, a document carrying HTML payloads as
``xss``) and one browser serve the whole package; each test gets a fresh browser
context. A static site on a second port hosts course pages that embed the widget
from another origin: ``127.0.0.1:PORT`` is listed in the server's CORS origins,
``localhost:PORT`` is not. The site also answers ``POST /v1/ask`` itself with a
scripted event stream whose steps the test releases one by one, to show what a
mocked route cannot: the widget between two events.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from indexes import IndexReader
from ingest import IngestReport
from tests.indexing import build_index
from tests.servers import free_port, serving
from tests.widget.browser import (
    CHROMIUM,
    COURSE,
    XSS_NOTE,
    Chat,
    Site,
    _SiteHandler,
    _SiteServer,
)


@pytest.fixture(scope="package")
def xss_index(
    real_embedder: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[IndexReader, IngestReport]:
    folder = tmp_path_factory.mktemp("xss-notes")
    (folder / "zorblax-notes.txt").write_text(XSS_NOTE, encoding="utf-8")
    return build_index(real_embedder, [folder], tmp_path_factory.mktemp("xss") / "index")


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("site")
    handler = functools.partial(_SiteHandler, directory=str(root))
    server = _SiteServer(("127.0.0.1", free_port()), handler)
    server.site = Site(root, server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="package")
def api_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's folder: its collections are under ``collections/``."""
    return tmp_path_factory.mktemp("widget-server")


@pytest.fixture(scope="package")
def api(
    demo_index: tuple[IndexReader, IngestReport],
    xss_index: tuple[IndexReader, IngestReport],
    site: Site,
    api_home: Path,
) -> Iterator[str]:
    """The base URL of a `syllabus serve` that lets the site's allowed origin call it."""
    collections = {
        "default": demo_index[0].root,
        "xss": xss_index[0].root,
        "course": demo_index[0].root,  # the demo notes as a course with its own settings
    }
    env = {"SYLLABUS_CORS_ORIGINS": site.allowed}
    with serving(collections, api_home, env, {"course": COURSE}) as url:
        yield url


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def chat(browser: Browser) -> Iterator[Chat]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    driven = Chat(context.new_page())
    yield driven
    context.close()
    assert driven.errors == [], "the page raised JavaScript errors"
