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

import contextlib
import functools
import html
import json
import queue
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Locator, Page, expect, sync_playwright

from indexes import IndexReader
from ingest import IngestReport
from service import katex
from tests.conftest import PROJECT, build_index
from tests.servers import free_port, serving

CHROMIUM = Path("/usr/bin/chromium")
WIDGET = PROJECT / "service" / "widget"
ARTIFACTS = PROJECT / "var" / "test-artifacts" / "widget"
ANSWER_TIMEOUT_MS = 60_000

IMG_PAYLOAD = "<img src=x onerror=\"window.__pwned=1;alert('img')\">"
SCRIPT_PAYLOAD = "<script>window.__pwned=2;alert('script')</script>"
# Short enough that the cited snippet (280 characters) carries both payloads.
XSS_NOTE = (
    "Zorblax is a made-up optimiser.\n\n"
    f"After every step the zorblax optimiser logs {IMG_PAYLOAD} to its console.\n\n"
    f"During warm-up it prints {SCRIPT_PAYLOAD} first.\n"
)


def events(*frames: tuple[str, object]) -> str:
    """Server-sent event frames, with CRLF line ends: the widget must read any SSE allows."""
    return "".join(f"event: {name}\r\ndata: {json.dumps(data)}\r\n\r\n" for name, data in frames)


class ScriptedStream:
    """The site's ``/v1/ask``: each ``send`` goes out when called, ``end`` closes the stream."""

    def __init__(self) -> None:
        self.steps: queue.Queue[str | None] = queue.Queue()
        self.requests: list[dict[str, Any]] = []  # the bodies the widget sent

    def send(self, *frames: tuple[str, object]) -> None:
        self.steps.put(events(*frames))

    def end(self) -> None:
        self.steps.put(None)

    def play(self, write: Callable[[bytes], object]) -> None:
        while (step := self.steps.get(timeout=ANSWER_TIMEOUT_MS / 1000)) is not None:
            write(step.encode())


class _SiteServer(ThreadingHTTPServer):
    site: Site


class _SiteHandler(SimpleHTTPRequestHandler):
    server: _SiteServer

    def do_POST(self) -> None:
        if self.path != "/v1/ask":
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.site.stream.requests.append(json.loads(body or b"{}"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes
        # Quiet when the test never ended the stream or the page went away.
        with contextlib.suppress(queue.Empty, OSError):
            self.server.site.stream.play(self.wfile.write)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@dataclass
class Site:
    """Static course pages on a second port: one folder, reachable as two origins."""

    root: Path
    port: int
    stream: ScriptedStream = field(default_factory=ScriptedStream)

    @property
    def allowed(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def refused(self) -> str:
        return f"http://localhost:{self.port}"

    def embed(self, name: str, api: str, *, head: str = "", body: str = "", **data: str) -> str:
        """Write a page that embeds the widget with ``data-*`` attributes; returns its path.

        The widget comes from ``api``; so do the answers unless ``data-api`` says otherwise.
        """
        data = {"api": api, **data}
        attributes = "".join(
            f' data-{key.replace("_", "-")}="{html.escape(value)}"' for key, value in data.items()
        )
        (self.root / name).write_text(
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name}</title>'
            f'<link rel="icon" href="data:,">{head}</head><body><h1>A course page</h1>'
            f'<p><a href="#top">A link</a></p>{body}'
            f'<script src="{api}/widget.js"{attributes} async></script>'
            "</body></html>",
            encoding="utf-8",
        )
        return f"/{name}"


class Chat:
    """The widget on one page, driven as a learner would drive it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def part(self, selector: str) -> Locator:
        # Playwright's CSS locators pierce the widget's open shadow root.
        return self.page.locator(f"syllabus-chat {selector}")

    @property
    def launcher(self) -> Locator:
        return self.part(".launcher")

    @property
    def panel(self) -> Locator:
        return self.part(".panel")

    @property
    def input(self) -> Locator:
        return self.part("textarea")

    @property
    def turns(self) -> Locator:
        return self.part(".turn")

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()

    def send(self, question: str) -> Locator:
        """Type and send ``question``; return its turn at once."""
        self.input.fill(question)
        self.input.press("Enter")
        return self.turns.last

    def ask(self, question: str, status: str = "done") -> Locator:
        """Type and send ``question``; wait for the answer to finish; return its turn."""
        turn = self.turns.nth(self.turns.count())
        self.input.fill(question)
        self.input.press("Enter")
        return self.settled(turn, status)

    def settled(self, turn: Locator, status: str = "done") -> Locator:
        expect(turn).to_have_attribute(
            "data-status", re.compile("done|error"), timeout=ANSWER_TIMEOUT_MS
        )
        assert turn.get_attribute("data-status") == status, turn.inner_text()
        return turn

    def focused(self) -> str | None:
        """The id or class of the element focused inside the widget, if any."""
        return self.page.evaluate(
            "() => { const e = document.querySelector('syllabus-chat')?.shadowRoot?.activeElement;"
            " return e ? e.id || e.className : null; }"
        )

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / f"{name}.png")


def serve_widget(site: Site, *, formulas: bool = False) -> None:
    """Put the widget's files (and KaTeX's, as Syllabus serves them) on the site."""
    for name in ("widget.js", "widget.css"):
        shutil.copyfile(WIDGET / name, site.root / name)
    if not formulas:
        return
    folder = katex.installed()
    if folder is None:
        pytest.fail("KaTeX is not installed: `make install` installs it")
    served = site.root / "widget" / "katex"
    shutil.copytree(folder, served, dirs_exist_ok=True)
    (served / "fonts.css").write_bytes(katex.fonts_css(folder))


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


# The settings of the "course" collection the service serves (its course.json).
COURSE = {
    "title": "ML 101 helper",
    "greeting": "Ask about this week's notes; exercises get hints, not solutions.",
    "teaching_mode": "guide",
}


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


# A citation as the service sends it, for scripted streams.
CITE = {
    "n": 1,
    "chunk_id": "c1",
    "source": "https://notes.example.org/adam",
    "title": "Adam",
    "page": 3,
    "heading_path": ["Adam", "Bias correction"],
    "snippet": "Bias correction divides each average by one minus beta to the power t.",
    "score": 0.9,
}
