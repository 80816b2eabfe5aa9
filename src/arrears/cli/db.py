"""`arrears db ...`: schema migrations."""

from __future__ import annotations

import typer

from arrears import bootstrap
from arrears.cli.common import console, handle_errors
from arrears.store.db import current_revision, head_revision, upgrade

app = typer.Typer(help="Database schema: create or upgrade it, show its revision.", no_args_is_help=True)


@app.command("upgrade")
@handle_errors
def upgrade_command() -> None:
    """Create the schema or bring it to the newest revision (safe to run again)."""
    with bootstrap.open_engine(check_schema=False) as engine:
        revision = upgrade(engine)
        console.print(f"database {engine.url.render_as_string(hide_password=True)} is at revision {revision}")


@app.command("current")
@handle_errors
def current_command() -> None:
    """Show the schema revision of the database and the newest one this version knows."""
    with bootstrap.open_engine(check_schema=False) as engine:
        console.print(f"current: {current_revision(engine) or 'none'}; newest: {head_revision()}")
