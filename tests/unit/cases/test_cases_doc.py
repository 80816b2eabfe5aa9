"""docs/cases.md carries the transition diagram generated from the transition table."""

from __future__ import annotations

from pathlib import Path

from arrears.cases.docs import BEGIN, END, render_section, replace_section
from arrears.domain.cases.machine import TRANSITIONS

DOC = Path(__file__).resolve().parents[3] / "docs" / "cases.md"


def test_committed_doc_equals_the_generated_section() -> None:
    page = DOC.read_text(encoding="utf-8")
    assert replace_section(page) == page
    section = page[page.index(BEGIN) : page.index(END) + len(END) + 1]
    assert section == render_section()


def test_every_transition_is_drawn() -> None:
    section = render_section()
    for t in TRANSITIONS:
        assert f"    {t.source.value} --> {t.target.value} : {t.event.value}" in section
