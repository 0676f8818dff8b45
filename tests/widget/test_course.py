"""A course's own settings reach its widget: title, greeting, and guided answers marked as
hints (real service, real HTTP, real Chromium)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.widget.browser import COURSE, Chat, Site, serve_widget

pytestmark = pytest.mark.integration


def test_the_widget_shows_its_course_title_greeting_and_hints(
    chat: Chat, api: str, site: Site
) -> None:
    serve_widget(site)
    chat.page.goto(site.allowed + site.embed("course.html", api, collection="course"))
    expect(chat.launcher).to_contain_text(COURSE["title"])
    chat.open()
    expect(chat.part(".head h2")).to_have_text(COURSE["title"])
    expect(chat.part(".greeting")).to_have_text(COURSE["greeting"])
    turn = chat.ask(
        "Compute how much GPU memory full fine-tuning of a 7B model needs. "
        "Give me the final number."
    )
    expect(turn.locator(".guided")).to_contain_text("A hint, not the solution")
    expect(turn.locator(".answer")).not_to_contain_text("100 GB")
    chat.screenshot("course-guided")
    concept = chat.ask("What is full fine-tuning?")
    expect(concept.locator(".guided")).to_have_count(0)


def test_the_page_own_title_wins_over_the_course(chat: Chat, api: str, site: Site) -> None:
    serve_widget(site)
    page = site.embed("titled.html", api, collection="course", title="Week 3 questions")
    chat.page.goto(site.allowed + page)
    chat.open()
    expect(chat.part(".greeting")).to_have_text(COURSE["greeting"])  # the page sets none
    expect(chat.part(".head h2")).to_have_text("Week 3 questions")
