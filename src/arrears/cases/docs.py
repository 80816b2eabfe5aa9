"""The generated part of docs/cases.md: the transition diagram and tables, from the transition table.

``python -m arrears.cases.docs`` prints the section; ``python -m arrears.cases.docs --write`` replaces it
in docs/cases.md between the markers. A test keeps the committed page equal to the generated one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from arrears.domain.cases.enums import Event, HoldKind
from arrears.domain.cases.machine import GUARDS, HOLD_BLOCKS, TRANSITIONS, mermaid

__all__ = ["BEGIN", "END", "render_section", "replace_section"]

BEGIN = "<!-- BEGIN GENERATED: python -m arrears.cases.docs --write -->"
END = "<!-- END GENERATED -->"


def render_section() -> str:
    """The Mermaid diagram, the transition table, the guards and what each hold refuses."""
    lines = [
        BEGIN,
        "",
        "```mermaid",
        mermaid().rstrip("\n"),
        "```",
        "",
        "| from | event | guard | to | effects |",
        "|---|---|---|---|---|",
    ]
    for t in TRANSITIONS:
        lines.append(
            f"| {t.source.value} | {t.event.value} | {t.guard or '-'} | {t.target.value} | "
            f"{', '.join(t.effects) or '-'} |"
        )
    lines += ["", "Guards:", ""]
    lines += [f"- `{name}`: {text}" for name, text in GUARDS.items()]
    lines += ["", "| hold | refuses |", "|---|---|"]
    for hold in HoldKind:
        refused = [e.value for e in Event if e in HOLD_BLOCKS[hold]]
        lines.append(f"| {hold.value} | {', '.join(refused)} |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def replace_section(page: str) -> str:
    """``page`` with the text between the markers replaced by :func:`render_section`."""
    start, end = page.index(BEGIN), page.index(END) + len(END) + 1
    return page[:start] + render_section() + page[end:]


if __name__ == "__main__":  # pragma: no cover - a developer tool
    if "--write" in sys.argv:
        path = Path("docs/cases.md")
        path.write_text(replace_section(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(render_section())
