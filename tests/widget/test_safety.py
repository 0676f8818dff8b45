"""What documents carry stays text; only allowed origins call the API; styles stay apart."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.widget.browser import IMG_PAYLOAD, SCRIPT_PAYLOAD, Chat, Site

pytestmark = pytest.mark.integration

PAGE_FETCH = """async (api) => {
  try {
    const response = await fetch(api + "/v1/ask", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({question: "Who won the 2018 World Cup?"}),
    });
    return "status " + response.status;
  } catch (error) {
    return error.name;
  }
}"""


def test_markup_in_a_document_is_shown_as_text_and_never_runs(
    chat: Chat, api: str, site: Site
) -> None:
    page = site.embed("xss.html", api, collection="xss", title="Zorblax course")
    chat.page.goto(site.allowed + page)
    chat.open()
    turn = chat.ask("What does the zorblax optimiser log after every step?")
    expect(turn.locator(".answer")).to_contain_text(IMG_PAYLOAD)
    turn.locator(".chip").first.click()
    expect(turn.locator(".source")).to_contain_text(SCRIPT_PAYLOAD)
    chat.screenshot("xss")

    chat.page.reload()  # the stored conversation is rendered again from sessionStorage
    expect(chat.turns.first.locator(".answer")).to_contain_text(IMG_PAYLOAD)
    chat.turns.first.locator(".chip").first.click()
    chat.page.wait_for_timeout(300)  # an onerror would fire as soon as the image failed
    assert chat.page.evaluate("() => window.__pwned") is None
    assert chat.dialogs == []
    injected = "() => document.querySelector('syllabus-chat').shadowRoot"
    assert chat.page.evaluate(f"{injected}.querySelectorAll('img, script').length") == 0


def test_an_allowed_origin_calls_the_api(chat: Chat, api: str, site: Site) -> None:
    page = site.embed("plain.html", api, title="Course help", show_sources="false")
    chat.page.goto(site.allowed + page)
    expect(chat.launcher).to_have_text("Course help")
    chat.open()
    turn = chat.ask("What is nucleus sampling?")
    # data-show-sources="false": no chips, and the [n] markers stay plain text
    expect(turn.locator(".answer")).to_have_text(re.compile(r"\[\d+\]"))
    expect(turn.locator(".chip, .ref")).to_have_count(0)
    # nothing but the answer, the notes' words beneath a generated one, and "Did this help?"
    expect(turn.locator(".bot > :visible:not(.answer, .quote, .rating)")).to_have_count(0)
    assert chat.page.evaluate(PAGE_FETCH, api) == "status 200"


def test_a_refused_origin_cannot_call_the_api(chat: Chat, api: str, site: Site) -> None:
    chat.page.goto(site.refused + site.embed("course.html", api, title="Course help"))
    chat.open()  # widget.js itself loads from anywhere; its calls do not
    turn = chat.ask("What is nucleus sampling?", status="error")
    expect(turn).to_contain_text("Could not reach the course assistant.")
    assert chat.page.evaluate(PAGE_FETCH, api) == "TypeError"


HOSTILE_CSS = """<style>
  * { font-family: cursive !important; color: rgb(0, 128, 0) !important; }
  button { background: rgb(255, 0, 0) !important; font-size: 40px !important; }
  html { font-size: 40px; }
</style>"""


def test_styles_cross_the_shadow_boundary_in_neither_direction(
    chat: Chat, api: str, site: Site
) -> None:
    page = site.embed(
        "hostile.html",
        api,
        head=HOSTILE_CSS,
        body='<p class="msg">Host text</p><button class="launcher">Host button</button>',
        accent="#ffd60a",
        position="bottom-left",
        greeting="Hello from the test.",
        placeholder="Type here",
    )
    chat.page.goto(site.allowed + page)
    chat.open()

    style = "(e, p) => getComputedStyle(e)[p]"
    send = chat.part(".send")
    assert send.evaluate(style, "backgroundColor") == "rgb(255, 214, 10)"  # data-accent
    assert send.evaluate(style, "color") == "rgb(17, 17, 17)"  # dark text on a light accent
    assert chat.input.evaluate(style, "fontSize") == "15px"
    assert "cursive" not in chat.input.evaluate(style, "fontFamily")
    expect(chat.input).to_have_attribute("placeholder", "Type here")
    expect(chat.part(".greeting")).to_have_text("Hello from the test.")
    box = chat.panel.bounding_box()
    assert box is not None and box["x"] == 20  # data-position="bottom-left"
    chat.screenshot("hostile-page")

    host_button = chat.page.locator("body > button.launcher")
    assert host_button.evaluate(style, "backgroundColor") == "rgb(255, 0, 0)"
    assert host_button.evaluate(style, "position") == "static"
    assert chat.page.locator("body > p.msg").evaluate(style, "whiteSpace") == "normal"
