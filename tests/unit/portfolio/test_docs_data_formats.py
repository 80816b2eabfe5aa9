"""docs/data-formats.md is generated from the column specifications and must stay equal to them."""

from __future__ import annotations

from pathlib import Path

from arrears.portfolio.schema import ACCOUNT_COLUMNS, PAYMENT_COLUMNS, render_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "data-formats.md"


def test_committed_page_equals_generated() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "regenerate with: .venv/bin/python -m arrears.portfolio.schema > docs/data-formats.md"
    )


def test_every_column_is_documented_once() -> None:
    text = render_markdown()
    for spec in (*ACCOUNT_COLUMNS, *PAYMENT_COLUMNS):
        assert f"| `{spec.name}` |" in text
