"""Formulas and basic Markdown in answers and sources, rendered in real Chromium.

KaTeX comes from the widget's own origin (here the site, as Syllabus would serve it:
``/widget/katex/``). Screenshots are saved under var/test-artifacts/widget.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.widget.browser import CITE, Chat, ScriptedStream, Site, scripted_page

pytestmark = pytest.mark.integration

ATTENTION = {
    **CITE,
    "title": "Attention",
    "heading_path": ["Attention", "Why divide by sqrt(d_k)?"],
    "snippet": "The dot product $q \\cdot k$ has variance $d_k$: scores grow with the head size.",
}
INLINE_HALF = "Divide the scores by $\\sqrt{d"
INLINE_REST = "_k}$ so that their variance is 1 [1]. The whole layer is\n\n"
DISPLAY = "$$\\mathrm{softmax}\\left(\\frac{QK^T}{\\sqrt{d_k}}\\right)V$$"
ANSWER = INLINE_HALF + INLINE_REST + DISPLAY


@pytest.fixture
def stream(chat: Chat, site: Site) -> Iterator[ScriptedStream]:
    """A course page whose widget (and KaTeX) come from the site; the panel is open."""
    yield from scripted_page(chat, site, "math.html", formulas=True)


def done(answer: str, citations: list[dict[str, object]]) -> tuple[str, dict[str, object]]:
    return ("done", {"answer": answer, "mode": "generative", "citations": citations})


def test_a_formula_renders_once_it_closes_while_the_answer_streams(
    chat: Chat, stream: ScriptedStream
) -> None:
    stream.send(("citations", {"citations": [ATTENTION]}), ("token", {"text": INLINE_HALF}))
    turn = chat.send("Why is attention scaled by sqrt(d_k)?")
    answer = turn.locator(".answer")

    # Half-way through the formula: its source shows as text, nothing is rendered yet.
    expect(answer).to_contain_text("Divide the scores by $\\sqrt{d")
    expect(answer.locator(".katex")).to_have_count(0)
    chat.screenshot("math-streaming")

    stream.send(("token", {"text": INLINE_REST}), ("token", {"text": DISPLAY}))
    expect(answer.locator(".math:not(.display) .katex")).to_have_count(1)
    expect(answer.locator(".math.display .katex-display")).to_have_count(1)
    stream.send(done(ANSWER, [ATTENTION]))
    expect(turn).to_have_attribute("data-status", "done")
    expect(answer.locator(".katex")).to_have_count(2)
    shown = answer.inner_text()
    assert "$" not in shown and "\\sqrt" not in shown, shown
    assert "so that their variance is 1" in shown
    # KaTeX's fonts, declared on the page, have loaded: the formula is not in a fallback face.
    chat.page.evaluate("() => document.fonts.ready")
    assert chat.page.evaluate(
        "() => [...document.fonts].some(f => f.family.startsWith('KaTeX') && f.status === 'loaded')"
    )

    # The source card renders its formulas too.
    turn.locator(".chip").first.click()
    expect(turn.locator(".source .snippet .katex")).to_have_count(2)
    chat.screenshot("math-rendered")


def test_dollars_in_prose_stay_text(chat: Chat, stream: ScriptedStream) -> None:
    prose = "A GPU hour costs $5, $20,000 buys a server, and $PATH must list llama.cpp [1]."
    stream.send(("citations", {"citations": [CITE]}), done(prose, [CITE]))
    answer = chat.send("What does it cost?").locator(".answer")
    expect(answer).to_have_text(prose.replace("[1]", "1"))
    expect(answer.locator(".katex, .math")).to_have_count(0)
    chat.screenshot("math-prose-dollars")


HOSTILE = [
    "$\\href{javascript:window.__pwned=1}{click me}$",
    "$\\url{javascript:window.__pwned=2}$",
    "$\\htmlClass{launcher}{x}\\htmlStyle{position:fixed;inset:0}{y}$",
    "$\\includegraphics{http://127.0.0.1:9/track.png}$",
    "$\\def\\a{\\a\\a}\\a$",
    "$\\def\\b#1{\\b{#1#1}}\\b{x}$",
    "$" + "{" * 10_000 + "x" + "}" * 10_000 + "$",
]


def test_hostile_latex_renders_as_text_or_an_error_and_runs_nothing(
    chat: Chat, stream: ScriptedStream
) -> None:
    answer_text = " and ".join(HOSTILE) + " [1]."
    stream.send(("citations", {"citations": [CITE]}), done(answer_text, [CITE]))
    turn = chat.send("Show me something nasty")
    answer = turn.locator(".answer")
    expect(turn).to_have_attribute("data-status", "done")
    expect(answer.locator(".math")).to_have_count(len(HOSTILE))
    # Nothing links, loads or styles the page: no anchors, images or KaTeX's trusted classes.
    assert answer.locator("a, img, [style*='fixed'], .launcher").count() == 0
    for math in answer.locator(".math").all():
        math.click(force=True)
    assert chat.page.evaluate("() => window.__pwned") is None
    # The endless macros and the deep nesting end in an error mark, not a hung page.
    assert answer.locator(".katex-error, .math-error").count() >= 3
    assert chat.page.evaluate("() => 1 + 1") == 2
    chat.screenshot("math-hostile")


def test_markdown_renders_as_elements_and_never_as_markup(
    chat: Chat, stream: ScriptedStream
) -> None:
    markdown = (
        "**Adam** keeps two averages [1]:\n"
        "- the *first* moment `m`, like momentum\n"
        "- the second moment $v$\n\n"
        "```\nopt = torch.optim.AdamW(params, lr=1e-3)\n```\n"
        'Not HTML: <img src=x onerror="window.__pwned=3"> **<b>bold?</b>**'
    )
    stream.send(("citations", {"citations": [CITE]}), done(markdown, [CITE]))
    answer = chat.send("How does Adam work?").locator(".answer")
    expect(answer.locator("strong").first).to_have_text("Adam")
    expect(answer.locator("ul > li")).to_have_count(2)
    expect(answer.locator("li em")).to_have_text("first")
    expect(answer.locator("li code")).to_have_text("m")
    expect(answer.locator("li .katex")).to_have_count(1)
    expect(answer.locator("pre code")).to_have_text("opt = torch.optim.AdamW(params, lr=1e-3)")
    assert answer.locator("img, b").count() == 0
    expect(answer).to_contain_text('<img src=x onerror="window.__pwned=3">')
    assert chat.page.evaluate("() => window.__pwned") is None
    chat.screenshot("math-markdown")
