"""The insights page in real Chromium: learners' text shows as text, nothing runs."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from indexes import DocumentRecord
from service.feedback import AnswerJournal, AnswerRecord, Cited
from service.insights import gather
from service.insights_report import write_report
from tests.fakes import FakeEmbedder

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"
PAYLOAD = IMG + SCRIPT


def hostile_report(folder: Path, out: Path) -> Path:
    """A report whose question, answer, comment, title and source all carry the payload."""
    folder.mkdir()
    journal = AnswerJournal()
    cited = (Cited(f"notes/{IMG}.md", f"Title {SCRIPT}", (f"Heading {IMG}",)),)
    journal.record(folder, AnswerRecord(f"Why {PAYLOAD}?", "", "abstained"), log_question=True)
    given = AnswerRecord(f"What is {PAYLOAD}?", f"It is {PAYLOAD}", "generative", cited=cited)
    answer_id = journal.record(folder, given, log_question=True)
    journal.rate(folder, answer_id, False, f"Bad {PAYLOAD}")
    never = DocumentRecord("0" * 16, "x", f"never/{IMG}", f"Never {SCRIPT}", "0" * 64, "", 1, "")
    insights = gather(journal, folder, FakeEmbedder(), [never], 30)
    journal.close()
    write_report(insights, out)
    return out / "insights.html"


def test_the_page_shows_hostile_text_as_text_and_runs_nothing(
    browser: Browser, tmp_path: Path
) -> None:
    page_file = hostile_report(tmp_path / "course", tmp_path / "report")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(page_file.as_uri())
        expect(page.get_by_role("heading", name="What the materials miss")).to_be_visible()
        assert page.evaluate("() => typeof window.__pwned") == "undefined"
        assert page.locator("body img, body script").count() == 0
        cells = page.locator("td, li")
        for text in (f"Why {PAYLOAD}?", f"Bad {PAYLOAD}", f"It is {PAYLOAD}", f"Never {SCRIPT}"):
            expect(cells.filter(has_text=text).first).to_be_visible()
        # The one inline style block is allowed by its hash in the page's policy.
        header = page.evaluate(
            "() => getComputedStyle(document.querySelector('th')).backgroundColor"
        )
        assert header == "rgb(243, 244, 246)"
        assert page.locator("svg").count() == 2
        page.screenshot(path=tmp_path / "insights.png", full_page=True)
    finally:
        context.close()
    assert errors == []
