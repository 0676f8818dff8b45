"""A learner rates an answer in the widget; the service keeps it (real server, real HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from service.feedback import AnswerJournal
from tests.widget.browser import Chat

pytestmark = pytest.mark.integration


def test_not_helpful_with_a_comment_is_stored_and_thanked(
    chat: Chat, api: str, api_home: Path
) -> None:
    chat.page.goto(f"{api}/")
    chat.open()
    # A question whose best passage is close (above 0.5): never abstained, whatever the model
    # writes (SmolLM2 here; its text varies with what llama.cpp evaluated before).
    turn = chat.ask("Why is attention scaled by the square root of d_k?")
    rating = turn.locator(".rating")
    expect(rating).to_contain_text("Did this help?")
    rating.get_by_role("button", name="No").click()
    comment = turn.get_by_placeholder("What was missing? (optional)")
    comment.fill("I wanted an example threshold.")
    chat.screenshot("rating-comment")
    with chat.page.expect_response(f"{api}/v1/feedback") as sent:
        turn.get_by_role("button", name="Send").click()
    assert sent.value.status == 200
    expect(turn.locator(".rating")).to_have_text("Thanks: noted.")

    journal = AnswerJournal()  # the server's store, read as course staff would
    stored = journal.ratings(api_home / "collections" / "default")
    journal.close()
    question = "Why is attention scaled by the square root of d_k?"
    assert [(q, h, c) for q, _, h, c in stored] == [
        (question, False, "I wanted an example threshold.")
    ]

    chat.page.reload()  # the rating stays given for the session
    expect(chat.turns.first.locator(".rating")).to_have_text("Thanks: noted.")
