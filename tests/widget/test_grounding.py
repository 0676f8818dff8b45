"""A sentence its passages do not back is set off in the answer and says so, in real
Chromium: the service's grounding marks it unsupported, and a learner must see which."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, expect

from tests.widget.browser import CITE, Chat, ScriptedStream, Site, scripted_page

pytestmark = pytest.mark.integration

SAMPLING = {
    **CITE,
    "title": "Sampling",
    "heading_path": ["Decoding", "Temperature"],
    "snippet": "Temperature divides the logits by T before the softmax.",
}
FIRST = "Temperature divides the logits by $T$ before the softmax [1]."
WRONG = "A temperature $T > 1$ makes the distribution sharper [1]."
LAST = "Near 0 it becomes greedy decoding [1]."
ANSWER = f"{FIRST} {WRONG} {LAST}"
GROUNDING = {
    "sentences": [
        {"text": FIRST, "citations": [1], "support": 0.9, "supported": True},
        {"text": WRONG, "citations": [1], "support": 0.4, "supported": False},
        {"text": LAST, "citations": [1], "support": 0.8, "supported": True},
    ],
    "supported_ratio": 0.6667,
    "reason": "generated answer supported by its passages",
    "abstain_threshold": 0.3,
}


@pytest.fixture
def stream(chat: Chat, site: Site) -> Iterator[ScriptedStream]:
    """A course page whose widget (and KaTeX) come from the site; the panel is open."""
    yield from scripted_page(chat, site, "grounding.html", formulas=True)


def flagged_text(turn: Locator) -> str:
    """The text of the answer that is set off as unsupported, in reading order."""
    spans = turn.locator(".answer .unsupported")
    return " ".join(" ".join(spans.all_inner_texts()).split())


def test_a_sentence_the_notes_do_not_back_is_set_off_and_tagged(
    chat: Chat, stream: ScriptedStream
) -> None:
    done = {
        "answer": ANSWER,
        "mode": "generative",
        "citations": [SAMPLING],
        "grounding": GROUNDING,
    }
    stream.send(("citations", {"citations": [SAMPLING]}), ("token", {"text": ANSWER}))
    turn = chat.send("What does temperature do?")
    answer = turn.locator(".answer")
    expect(answer).to_contain_text("greedy decoding")
    # While the answer streams, nothing is judged yet.
    expect(answer.locator(".unsupported, .unsupported-tag")).to_have_count(0)

    stream.send(("done", done))
    stream.end()
    chat.settled(turn)
    tag = answer.locator(".unsupported-tag")
    expect(tag).to_have_count(1)
    expect(tag).to_have_text("not in the notes")
    expect(tag).to_have_attribute(
        "title", "The cited notes do not say this: check it against the sources."
    )
    # The wrong sentence, on both sides of its formula, and nothing of the others.
    flagged = flagged_text(turn)
    assert flagged.startswith("A temperature") and flagged.endswith("sharper 1.")
    assert "divides" not in flagged and "greedy" not in flagged
    expect(answer.locator(".katex")).to_have_count(2)  # both formulas still render
    expect(answer.locator(".math.unsupported")).to_have_count(1)  # T > 1, not the first T
    expect(answer.locator(".math.unsupported")).to_contain_text("T>1")
    # The tag follows the sentence it is about, before the next one.
    order = answer.evaluate(
        """(el) => {
          const tag = el.querySelector('.unsupported-tag');
          const after = (node) =>
            tag.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING;
          const spans = [...el.querySelectorAll('.unsupported')];
          const text = el.textContent;
          return {
            lastSpanBefore: !after(spans[spans.length - 1]),
            tagAt: text.indexOf('not in the notes'),
            nextAt: text.indexOf('Near 0'),
          };
        }"""
    )
    assert order["lastSpanBefore"] and 0 < order["tagAt"] < order["nextAt"]
    chat.screenshot("unsupported")

    chat.page.reload()  # the flag is part of the saved answer
    restored = chat.turns.first
    expect(restored.locator(".answer .unsupported-tag")).to_have_count(1)
    assert flagged_text(restored) == flagged


def test_an_answer_whose_sentences_are_all_backed_has_no_flag(
    chat: Chat, stream: ScriptedStream
) -> None:
    backed = [
        {"text": s, "citations": [1], "support": 0.9, "supported": True}
        for s in (FIRST, WRONG, LAST)
    ]
    done = {
        "answer": ANSWER,
        "mode": "generative",
        "citations": [SAMPLING],
        "grounding": {**GROUNDING, "sentences": backed, "supported_ratio": 1.0},
    }
    stream.send(("citations", {"citations": [SAMPLING]}), ("done", done))
    stream.end()
    turn = chat.settled(chat.send("What does temperature do?"))
    expect(turn.locator(".answer")).to_contain_text("greedy decoding")
    expect(turn.locator(".unsupported, .unsupported-tag")).to_have_count(0)
