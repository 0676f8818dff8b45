"""A widget scoped to the page's part of the course says so, and widens in one click."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.widget.browser import CITE, Chat, ScriptedStream, Site, serve_widget

pytestmark = pytest.mark.integration

SCOPE = {"source_prefix": "week3/", "heading_prefix": ["Attention"]}


def answered(stream: ScriptedStream) -> None:
    stream.send(
        ("citations", {"citations": [CITE]}),
        ("done", {"answer": "Scores are divided by sqrt(d_k) [1].", "mode": "extractive",
                  "citations": [CITE]}),
    )  # fmt: skip
    stream.end()  # the answer's stream closes; the next question opens another


def test_a_scoped_widget_asks_about_its_part_until_widened(chat: Chat, site: Site) -> None:
    serve_widget(site)
    site.stream = stream = ScriptedStream()
    page = site.embed(
        "scoped.html", site.allowed, scope=json.dumps(SCOPE), scope_label="Week 3: attention"
    )
    chat.page.goto(site.allowed + page)
    chat.open()
    line = chat.part(".scope")
    expect(line).to_contain_text("Asking about: Week 3: attention")
    chat.screenshot("scoped")

    answered(stream)
    chat.ask("Why divide by sqrt(d_k)?")
    assert stream.requests[-1]["scope"] == SCOPE

    line.get_by_role("button", name="Ask the whole course").click()
    expect(line).to_contain_text("Asking the whole course")
    answered(stream)
    chat.ask("And in BERT?")
    assert "scope" not in stream.requests[-1]

    chat.page.reload()  # the learner's choice lasts the session (the panel stays open)
    expect(chat.panel).to_be_visible()
    expect(chat.part(".scope")).to_contain_text("Asking the whole course")
    chat.part(".scope").get_by_role("button", name="Only Week 3: attention").click()
    answered(stream)
    chat.ask("What is a head?")
    assert stream.requests[-1]["scope"] == SCOPE


def test_without_a_label_the_scope_is_named_by_its_parts(chat: Chat, site: Site) -> None:
    serve_widget(site)
    site.stream = ScriptedStream()
    chat.page.goto(site.allowed + site.embed("parts.html", site.allowed, scope=json.dumps(SCOPE)))
    chat.open()
    expect(chat.part(".scope")).to_contain_text("Asking about: Attention · week3/")
    site.stream.end()


def test_a_widget_without_a_scope_shows_no_scope_line(chat: Chat, site: Site) -> None:
    serve_widget(site)
    chat.page.goto(site.allowed + site.embed("plain.html", site.allowed))
    chat.open()
    expect(chat.part(".scope")).to_have_count(0)


def test_a_page_scope_asks_about_the_page_it_is_on(chat: Chat, site: Site) -> None:
    serve_widget(site)
    site.stream = stream = ScriptedStream()
    chat.page.goto(site.allowed + site.embed("week3.html", site.allowed, scope="page") + "#top")
    chat.open()
    expect(chat.part(".scope")).to_contain_text("Asking about: this page")
    answered(stream)
    chat.ask("What is on this page?")
    assert stream.requests[-1]["scope"] == {"page": f"{site.allowed}/week3.html"}


def test_a_scoped_question_to_the_real_service_is_answered_from_its_document(
    chat: Chat, api: str, site: Site
) -> None:
    """Real server, real HTTP, real model: every source shown is the scoped note, and the
    formula renderer came from the service itself."""
    scope = {"documents": ["corpus/linear-algebra.md"]}
    page = site.embed("algebra.html", api, scope=json.dumps(scope), scope_label="Linear algebra")
    chat.page.goto(site.allowed + page)
    chat.open()
    chat.page.wait_for_function("() => typeof window.katex?.render === 'function'")
    with chat.page.expect_response(f"{api}/v1/ask") as asked:
        turn = chat.ask("What is a dot product?")
    assert json.loads(asked.value.request.post_data or "{}")["scope"] == scope
    chips = turn.locator(".chip")
    expect(chips.first).to_be_visible()
    for chip in chips.all():
        chip.click()
        expect(turn.locator(".source")).to_contain_text("corpus/linear-algebra.md")
    chat.screenshot("scoped-real")
