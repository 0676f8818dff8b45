"""The widget in Chromium: a course site that embeds it, a chat driven as a learner
would, and scripted event streams."""

from __future__ import annotations

import contextlib
import html
import json
import queue
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from service import katex
from tests.paths import PROJECT

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


def scripted_page(
    chat: Chat, site: Site, name: str, *, formulas: bool = False
) -> Iterator[ScriptedStream]:
    """A course page ``name`` whose widget (and, with ``formulas``, KaTeX) comes from the
    site and asks the site's scripted stream; the panel is open. For a fixture to yield
    from: the stream ends after the test."""
    serve_widget(site, formulas=formulas)
    site.stream = ScriptedStream()
    chat.page.goto(site.allowed + site.embed(name, site.allowed))
    chat.open()
    if formulas:
        chat.page.wait_for_function("() => typeof window.katex?.render === 'function'")
    yield site.stream
    site.stream.end()


# The settings of the "course" collection the service serves (its course.json).
COURSE = {
    "title": "ML 101 helper",
    "greeting": "Ask about this week's notes; exercises get hints, not solutions.",
    "teaching_mode": "guide",
}


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
