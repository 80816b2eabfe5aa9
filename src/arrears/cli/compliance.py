"""``arrears compliance``: check a proposed contact against the debtor's rules."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from arrears.cli.common import handle_errors, print_json
from arrears.compliance.service import check, read_request_text
from arrears.domain.compliance.packs import load_overrides, load_packs
from arrears.errors import FileFormatError

app = typer.Typer(help="Compliance: allow, delay, block or review a proposed contact.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Compliance engine commands."""


@app.command("check")
@handle_errors
def check_command(
    json_file: str = typer.Option(..., "--json", help="Request file (JSON); '-' reads standard input."),
    overrides: Path | None = typer.Option(None, "--overrides", help="YAML file of tuned rule parameters."),
) -> None:
    """Print the decision for one request. Exit 0 for any decision, 2 for a request that cannot be read."""
    if json_file == "-":
        text, source = sys.stdin.read(), "stdin"
    else:
        try:
            text = Path(json_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FileFormatError(f"cannot read {json_file}: {exc}", source=json_file) from None
        source = json_file
    request = read_request_text(text, source)
    packs = load_packs(load_overrides(overrides)) if overrides else load_packs()
    print_json(check(request, packs=packs).to_dict())
