from __future__ import annotations

from service.settings import Settings
from tests.paths import PROJECT


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if f"`SYLLABUS_{n.upper()}`" not in readme]
    assert missing == []


def test_every_setting_has_a_description() -> None:
    assert all(field.description for field in Settings.model_fields.values())
