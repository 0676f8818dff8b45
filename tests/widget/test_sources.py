"""A source card opens the document's public place when the service knows it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.widget.browser import CITE, Chat, ScriptedStream, Site, serve_widget

pytestmark = pytest.mark.integration

LINKED = {
    **CITE,
    "source": "corpus/adam.md",
    "url": "https://course.example.org/notes/adam.html#bias-correction",
}
UNLINKED = {**CITE, "n": 2, "source": "corpus/sgd.md", "url": None, "title": "SGD"}


def test_a_source_card_links_to_its_url_and_only_when_one_is_known(chat: Chat, site: Site) -> None:
    serve_widget(site)
    site.stream = stream = ScriptedStream()
    chat.page.goto(site.allowed + site.embed("sources.html", site.allowed))
    chat.open()
    answer = "Adam divides by one minus beta to the power t [1], unlike SGD [2]."
    stream.send(
        ("citations", {"citations": [LINKED, UNLINKED]}),
        ("done", {"answer": answer, "mode": "generative", "citations": [LINKED, UNLINKED]}),
    )
    stream.end()
    turn = chat.ask("How does Adam correct its bias?")
    turn.locator(".chip").first.click()
    link = turn.locator(".source a")
    expect(link).to_have_attribute("href", LINKED["url"])
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    chat.screenshot("source-link")
    turn.locator(".chip").nth(1).click()
    expect(turn.locator(".source")).to_contain_text("corpus/sgd.md")
    expect(turn.locator(".source a")).to_have_count(0)
