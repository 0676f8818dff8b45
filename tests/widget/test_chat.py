"""A learner on the demo course page: asking, sources, follow-ups, abstention, keyboard."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Response, Route, expect

from service.answering import NOT_COVERED
from tests.widget.browser import CITE, Chat, events

pytestmark = pytest.mark.integration


def numbers(chat: Chat, selector: str) -> list[str]:
    return chat.part(selector).all_inner_texts()


def test_the_demo_page_streams_a_cited_answer(chat: Chat, api: str) -> None:
    chat.page.goto(f"{api}/")
    expect(chat.launcher).to_have_text("Ask the course")
    chat.open()
    assert chat.focused() == "syllabus-question"

    with chat.page.expect_response(f"{api}/v1/ask") as asked:
        turn = chat.ask("What does the forget gate in an LSTM do?")
    assert asked.value.headers["content-type"].startswith("text/event-stream")
    assert turn.get_attribute("data-mode") in ("extractive", "generative")
    assert "forget gate" in turn.locator(".answer").inner_text()

    # Every [n] in the answer is a chip with the same number, and the chip names the note.
    markers = numbers(chat, ".answer .ref")
    assert markers and set(markers) <= set(numbers(chat, ".chip .ref"))
    chip = turn.locator(".chip", has_text="Recurrent Neural Networks and LSTMs").first
    chip.click()
    expect(chip).to_have_attribute("aria-expanded", "true")
    source = turn.locator(".source")
    expect(source).to_contain_text("corpus/rnns-and-lstms.md")
    expect(source.locator(".snippet")).not_to_be_empty()
    expect(source.locator("a")).to_have_count(0)  # the source is a file, not a URL
    chat.screenshot("demo-desktop")

    chat.page.set_viewport_size({"width": 390, "height": 844})
    box = chat.panel.bounding_box()
    assert box is not None and box["width"] == 390 and box["height"] == 844
    chat.screenshot("demo-phone")


def done_event(response: Response) -> dict[str, Any]:
    """The data of the `done` event in a finished server-sent event stream."""
    frames = [frame.split("\n") for frame in response.text().split("\n\n") if frame]
    done = [lines[1] for lines in frames if lines[0] == "event: done"]
    data: dict[str, Any] = json.loads(done[0].removeprefix("data: "))
    return data


def test_a_follow_up_sends_the_conversation(chat: Chat, api: str) -> None:
    chat.page.goto(f"{api}/")
    chat.open()
    with chat.page.expect_response(f"{api}/v1/ask") as answered:
        chat.ask("What is the rank r in LoRA?")
    with chat.page.expect_request(f"{api}/v1/ask") as sent:
        follow_up = chat.ask("And how does QLoRA save even more memory?")

    assert json.loads(sent.value.post_data or "{}")["history"] == [
        {"role": "user", "content": "What is the rank r in LoRA?"},
        {"role": "assistant", "content": done_event(answered.value)["answer"]},
    ]
    expect(follow_up.locator(".chip", has_text="LoRA and QLoRA").first).to_be_visible()


def test_an_out_of_domain_question_reads_as_not_covered(chat: Chat, api: str) -> None:
    chat.page.goto(f"{api}/")
    chat.open()
    turn = chat.ask("Who won the 2018 World Cup?")
    assert turn.get_attribute("data-mode") == "abstained"
    expect(turn).to_contain_text(NOT_COVERED)
    expect(turn.locator("[role=alert], .retry, .chip")).to_have_count(0)
    chat.screenshot("abstained")


def test_keyboard_alone_opens_asks_reads_a_source_and_closes(chat: Chat, api: str) -> None:
    chat.page.goto(f"{api}/")
    for _ in range(10):
        chat.page.keyboard.press("Tab")
        if chat.focused() == "launcher":
            break
    assert chat.focused() == "launcher", "Tab never reached the launcher"
    chat.page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()
    assert chat.focused() == "syllabus-question"

    chat.page.keyboard.type("Why is attention scaled by the square root of d_k?")
    chat.page.keyboard.press("Enter")
    chat.settled(chat.turns.first)
    assert chat.focused() == "syllabus-question"

    # Before the input: "Did this help?" Yes / No, and before them the chips.
    for control in ("rate-no", "rate-yes", "chip"):
        chat.page.keyboard.press("Shift+Tab")
        assert chat.focused() == control
    chat.page.keyboard.press("Enter")
    expect(chat.part(".source")).to_be_visible()
    expect(chat.part(".chip[aria-expanded=true]")).to_have_count(1)

    chat.page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    assert chat.focused() == "launcher"


def test_the_conversation_survives_navigation_until_cleared(chat: Chat, api: str) -> None:
    chat.page.goto(f"{api}/")
    chat.open()
    answer = chat.ask("What does the forget gate in an LSTM do?").locator(".answer").inner_text()

    chat.page.goto(f"{api}/?lesson=6")
    expect(chat.panel).to_be_visible()  # it was open when the learner left
    expect(chat.turns).to_have_count(1)
    expect(chat.turns.first.locator(".answer")).to_have_text(answer)
    expect(chat.turns.first.locator(".chip").first).to_be_visible()

    chat.part(".new").click()
    expect(chat.turns).to_have_count(0)
    assert chat.focused() == "syllabus-question"
    chat.page.reload()
    expect(chat.panel).to_be_visible()
    expect(chat.turns).to_have_count(0)


def _refuse(
    status: int, body: object, headers: dict[str, str] | None = None
) -> Callable[[Route], None]:
    def handler(route: Route) -> None:
        route.fulfill(status=status, json=body, headers=headers or {})

    return handler


def test_errors_read_clearly_and_offer_a_retry(chat: Chat, api: str) -> None:
    chat.page.goto(f"{api}/")
    chat.open()
    ask = f"{api}/v1/ask"
    overloaded = {"error": {"code": "overloaded", "message": "the generation queue is full"}}
    chat.page.route(ask, _refuse(503, overloaded, {"Retry-After": "3"}))
    turn = chat.ask("What is nucleus sampling?", status="error")
    expect(turn.locator("[role=alert]")).to_have_text(
        "The assistant is busy right now. Please wait 3 seconds and try again."
    )
    chat.screenshot("busy")

    chat.page.unroute(ask)
    failing = {"error": {"code": "internal", "message": "internal error; the server log has it"}}
    chat.page.route(ask, _refuse(500, failing))
    turn.locator(".retry").click()
    chat.settled(turn, "error")
    expect(turn).to_contain_text("The assistant could not answer: internal error; the server log")

    chat.page.unroute(ask)
    chat.page.route(ask, lambda route: route.abort("connectionrefused"))
    turn.locator(".retry").click()
    chat.settled(turn, "error")
    expect(turn).to_contain_text("Could not reach the course assistant.")

    chat.page.unroute(ask)
    turn.locator(".retry").click()
    chat.settled(turn, "done")
    expect(turn.locator(".answer")).to_contain_text("nucleus", ignore_case=True)


def test_streamed_tokens_are_assembled_and_the_verified_answer_wins(chat: Chat, api: str) -> None:
    tokens = ["Adam ", "divides ", "by ", "1 - beta^t ", "[1]."]
    done = {
        "answer": "Adam divides each average by one minus beta to the power t [1].",
        "mode": "generative",
        "citations": [CITE],
    }
    stream = events(("citations", {"citations": [CITE]}), *[("token", {"text": t}) for t in tokens])
    chat.page.goto(f"{api}/")
    chat.open()
    chat.page.route(
        f"{api}/v1/ask",
        lambda route: route.fulfill(
            status=200, content_type="text/event-stream", body=stream + events(("done", done))
        ),
    )
    turn = chat.ask("How does Adam correct its bias?")
    expect(turn.locator(".answer")).to_have_text(
        "Adam divides each average by one minus beta to the power t 1."
    )
    turn.locator(".chip").click()
    link = turn.locator(".source a")
    expect(link).to_have_attribute("href", "https://notes.example.org/adam")
    expect(turn.locator(".source")).to_contain_text("Bias correction · page 3")

    chat.page.unroute(f"{api}/v1/ask")
    timeout = {"error": {"code": "generator_timeout", "message": "the model took too long"}}
    chat.page.route(
        f"{api}/v1/ask",
        lambda route: route.fulfill(
            status=200, content_type="text/event-stream", body=stream + events(("error", timeout))
        ),
    )
    broken = chat.ask("And then?", status="error")
    expect(broken).to_contain_text("The assistant could not answer: the model took too long.")
