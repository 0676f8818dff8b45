"""A draft from the notes shows at once; the generated answer replaces it as it streams."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.widget.browser import CITE, Chat, ScriptedStream, Site, scripted_page

pytestmark = pytest.mark.integration


ADAM = {**CITE, "chunk_id": "adam-3"}
MOMENTS = {
    "n": 2,
    "chunk_id": "adam-2",
    "source": "https://notes.example.org/adam",
    "title": "Adam",
    "page": 2,
    "heading_path": ["Adam", "Moment estimates"],
    "snippet": "Both moving averages start at zero, so early estimates are biased towards it.",
    "score": 0.8,
}
RETRIEVED = {"citations": [ADAM, MOMENTS]}
DRAFT = {
    "text": "Bias correction divides each average by one minus beta to the power t [1].",
    "citations": [1],
}
DRAFT_SHOWN = "Bias correction divides each average by one minus beta to the power t 1."
TOKENS = ["The moving averages ", "start at zero [2], ", "so Adam divides each by 1 - beta^t [1]."]
GENERATED = "The moving averages start at zero [2], so Adam divides each by 1 - beta^t [1]."
FROM_THE_NOTES = "From the notes · writing a fuller answer…"


@pytest.fixture
def stream(chat: Chat, site: Site) -> Iterator[ScriptedStream]:
    """A course page whose widget asks the site's scripted stream; the panel is open.

    The site serves the widget too: these tests need no Syllabus server.
    """
    yield from scripted_page(chat, site, "draft.html")


def test_the_draft_shows_at_once_and_the_generated_answer_replaces_it(
    chat: Chat, stream: ScriptedStream
) -> None:
    stream.send(("citations", RETRIEVED), ("draft", DRAFT))
    turn = chat.send("How does Adam correct its bias?")
    answer, status, chips = turn.locator(".answer"), turn.locator(".status"), turn.locator(".chip")

    # The stream pauses here: the draft and its one source are all there is so far.
    expect(answer).to_have_text(DRAFT_SHOWN)
    expect(status).to_have_text(FROM_THE_NOTES)
    expect(status).to_have_attribute("role", "status")
    expect(chips).to_have_count(1)
    expect(turn).to_have_attribute("data-status", "pending")
    chips.first.click()
    expect(turn.locator(".source")).to_contain_text("Bias correction · page 3")
    chat.screenshot("draft")

    stream.send(*[("token", {"text": text}) for text in TOKENS[:2]])
    expect(answer).to_have_text("The moving averages start at zero 2,")
    expect(answer).not_to_contain_text("Bias correction")
    expect(status).to_have_text("Writing…")
    # The draft's source keeps its chip; the one the new text cites gains one.
    expect(chips).to_have_count(2)
    expect(turn.locator(".chip[data-n='2']")).to_contain_text("Moment estimates, page 2")
    expect(turn.locator(".source")).to_be_visible()  # redrawing did not close the source
    chat.screenshot("replaced")

    done = {"answer": GENERATED, "mode": "generative", "citations": [MOMENTS, ADAM]}
    stream.send(*[("token", {"text": text}) for text in TOKENS[2:]], ("done", done))
    stream.end()
    chat.settled(turn)
    final = "The moving averages start at zero 2, so Adam divides each by 1 - beta^t 1."
    expect(answer).to_have_text(final)
    expect(turn.locator(".bot")).to_have_text(re.compile(f"^{re.escape(final)}"))
    expect(status).to_have_count(0)
    expect(chips).to_have_count(2)
    assert turn.get_attribute("data-mode") == "generative"


def test_when_generation_fails_verification_the_draft_stands(
    chat: Chat, stream: ScriptedStream
) -> None:
    stream.send(("citations", RETRIEVED), ("draft", DRAFT))
    turn = chat.send("How does Adam correct its bias?")
    expect(turn.locator(".status")).to_have_text(FROM_THE_NOTES)

    done = {"answer": DRAFT["text"], "mode": "extractive", "citations": [ADAM]}
    stream.send(("done", done))
    stream.end()
    chat.settled(turn)
    assert turn.get_attribute("data-mode") == "extractive"
    expect(turn.locator(".answer")).to_have_text(DRAFT_SHOWN)
    expect(turn.locator(".status")).to_have_count(0)
    expect(turn.locator(".chip")).to_have_count(1)


def test_a_reload_mid_draft_keeps_no_draft_and_reads_as_interrupted(
    chat: Chat, stream: ScriptedStream
) -> None:
    stream.send(("citations", RETRIEVED), ("draft", DRAFT))
    turn = chat.send("How does Adam correct its bias?")
    expect(turn.locator(".answer")).to_have_text(DRAFT_SHOWN)
    chat.part(".close").click()  # closing and opening the panel saves the conversation
    chat.open()
    assert "Bias correction" not in chat.page.evaluate("() => JSON.stringify(sessionStorage)")

    chat.page.reload()
    turn = chat.turns.first
    expect(turn).to_have_attribute("data-status", "error")
    expect(turn).to_contain_text("The answer was interrupted before it finished.")
    expect(turn.locator(".retry")).to_be_visible()
    expect(turn.locator(".answer, .status")).to_have_count(0)


def test_the_notes_words_stay_beneath_a_generated_answer_and_after_a_reload(
    chat: Chat, stream: ScriptedStream
) -> None:
    stream.send(("citations", RETRIEVED), ("draft", DRAFT))
    turn = chat.send("How does Adam correct its bias?")
    expect(turn.locator(".answer")).to_have_text(DRAFT_SHOWN)
    expect(turn.locator(".quote")).to_have_count(0)  # while drafting, the draft is the answer

    quote = {
        "text": "Bias correction divides each average by one minus beta to the power t.",
        "citation": 1,
    }
    other = {"text": "Both moving averages start at zero.", "citation": 2}
    done = {
        "answer": GENERATED,
        "mode": "generative",
        "citations": [MOMENTS, ADAM],
        "quotes": [quote, other],
    }
    stream.send(*[("token", {"text": text}) for text in TOKENS], ("done", done))
    stream.end()
    chat.settled(turn)
    block = turn.locator(".quote")
    expect(block).to_have_text(f"In the notes{quote['text']}1{other['text']}2")
    block.locator(".quote-text").first.locator(".ref").click()  # opens the passage it quotes
    expect(turn.locator(".source")).to_contain_text("Bias correction · page 3")
    chat.screenshot("quoted")

    chat.page.reload()
    restored = chat.turns.first
    # Each quote, with its marker at the end of its last line.
    expect(restored.locator(".quote .quote-text")).to_have_text(
        [f"{quote['text']}1", f"{other['text']}2"]
    )
