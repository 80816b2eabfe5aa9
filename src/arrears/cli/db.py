"""`arrears db ...`: schema migrations."""

from __future__ import annotations

import typer
from sqlalchemy import Engine, func, inspect, select

from arrears import bootstrap
from arrears.access.permissions import Permission
from arrears.access.service import require
from arrears.access.tables import User
from arrears.cli.common import console, handle_errors
from arrears.cli.users import ActAs, actor
from arrears.store.db import UnitOfWork, current_revision, head_revision, upgrade

app = typer.Typer(help="Database schema: create or upgrade it, show its revision.", no_args_is_help=True)


@app.command("upgrade")
@handle_errors
def upgrade_command(as_user: ActAs = None) -> None:
    """Create the schema or bring it to the newest revision (safe to run again).

    Needs ``manage_schema`` once the installation has users; before the first user anyone may run it.
    """
    with bootstrap.open_engine(check_schema=False) as engine:
        _require_schema_permission(engine, actor(as_user))
        revision = upgrade(engine)
        console.print(f"database {engine.url.render_as_string(hide_password=True)} is at revision {revision}")


def _require_schema_permission(engine: Engine, name: str) -> None:
    if "users" not in inspect(engine).get_table_names():
        return
    with UnitOfWork(engine) as uow:
        if uow.session.scalar(select(func.count()).select_from(User)):
            require(uow.session, name, Permission.MANAGE_SCHEMA)


@app.command("current")
@handle_errors
def current_command() -> None:
    """Show the schema revision of the database and the newest one this version knows."""
    with bootstrap.open_engine(check_schema=False) as engine:
        console.print(f"current: {current_revision(engine) or 'none'}; newest: {head_revision()}")
