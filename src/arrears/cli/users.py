"""`arrears users ...`: users, roles, passwords, API keys, assignments; and who the CLI acts as.

The command line acts as a named user: ``--as USER`` or ``ARREARS_ACTOR``. Every command checks that
user's permissions in the services, exactly as the API will.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from arrears import bootstrap
from arrears.access import credentials
from arrears.access.permissions import Permission, render_matrix_markdown
from arrears.access.service import add_user, assign_account, grant_role, list_users, require, revoke_role
from arrears.cli.common import console, handle_errors, print_json
from arrears.errors import ValidationError
from arrears.store.db import UnitOfWork, utcnow

__all__ = ["ActAs", "JsonFlag", "actor", "app", "check_permission", "unit_of_work"]

app = typer.Typer(help="Users, roles, passwords and API keys.", no_args_is_help=True)

ActAs = Annotated[
    str | None,
    typer.Option("--as", help="The user to act as (default: ARREARS_ACTOR).", show_default=False),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def actor(as_user: str | None) -> str:
    """The user this command acts as: ``--as``, else ``ARREARS_ACTOR``."""
    return (as_user or bootstrap.settings().actor).strip()


@contextmanager
def unit_of_work() -> Iterator[UnitOfWork]:
    """A unit of work on the configured database; the engine is closed afterwards."""
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        yield uow


def check_permission(permission: Permission, as_user: str | None) -> str:
    """The acting user's name, after checking they hold ``permission`` (exit 6 when not)."""
    name = actor(as_user)
    with unit_of_work() as uow:
        require(uow.session, name, permission)
    return name


@app.command("add")
@handle_errors
def add_command(
    username: Annotated[str, typer.Argument(help="Lower-case user name")],
    role: Annotated[list[str], typer.Option("--role", help="A role (repeat for several)")],
    agency: Annotated[str | None, typer.Option(help="The agency of an agency_collector")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    as_user: ActAs = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a user. The first user of an installation must be an administrator; anyone may add that one."""
    with unit_of_work() as uow:
        who = add_user(uow.session, actor=actor(as_user), username=username, roles=role, now=utcnow(),
                       display_name=display_name, agency=agency)  # fmt: skip
        uow.commit()
    if as_json:
        print_json({"username": who.username, "roles": sorted(who.roles), "agency": who.agency})
    else:
        console.print(f"added {who.username} ({', '.join(sorted(who.roles))})")


@app.command("list")
@handle_errors
def list_command(as_user: ActAs = None, as_json: JsonFlag = False) -> None:
    """Every user with roles and lock state."""
    with unit_of_work() as uow:
        users = list_users(uow.session, actor=actor(as_user))
    if as_json:
        print_json({"users": users})
        return
    table = Table(title="users")
    for name in ("user", "roles", "agency", "active", "password", "locked until"):
        table.add_column(name)
    for u in users:
        roles = ", ".join(str(r) for r in u["roles"])  # type: ignore[attr-defined]
        table.add_row(str(u["username"]), roles, str(u["agency"] or ""), "yes" if u["is_active"] else "no",
                      "set" if u["has_password"] else "-", str(u["locked_until"] or ""))  # fmt: skip
    console.print(table)


@app.command("grant")
@handle_errors
def grant_command(username: str, role: str, as_user: ActAs = None, as_json: JsonFlag = False) -> None:
    """Give a user a role."""
    with unit_of_work() as uow:
        who = grant_role(uow.session, actor=actor(as_user), username=username, role=role, now=utcnow())
        uow.commit()
    _roles_out(who.username, sorted(who.roles), as_json)


@app.command("revoke")
@handle_errors
def revoke_command(username: str, role: str, as_user: ActAs = None, as_json: JsonFlag = False) -> None:
    """Take a role from a user (the last administrator keeps theirs)."""
    with unit_of_work() as uow:
        who = revoke_role(uow.session, actor=actor(as_user), username=username, role=role, now=utcnow())
        uow.commit()
    _roles_out(who.username, sorted(who.roles), as_json)


def _roles_out(username: str, roles: list[str], as_json: bool) -> None:
    if as_json:
        print_json({"username": username, "roles": roles})
    else:
        console.print(f"{username}: {', '.join(roles) or 'no role'}")


@app.command("set-password")
@handle_errors
def set_password_command(
    username: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    as_user: ActAs = None,
) -> None:
    """Set a password (one's own, or anyone's as an administrator); prompts unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    with unit_of_work() as uow:
        credentials.set_password(uow.session, actor=actor(as_user), username=username, password=password,
                                 now=utcnow())  # fmt: skip
        uow.commit()
    console.print(f"password set for {username}")


@app.command("api-key")
@handle_errors
def api_key_command(
    username: str,
    name: Annotated[str, typer.Option("--name", help="What the key is for")],
    expires_in_days: Annotated[int | None, typer.Option("--expires-in-days", min=1)] = None,
    revoke: Annotated[
        str | None, typer.Option("--revoke", help="Revoke the key with this prefix instead")
    ] = None,
    as_user: ActAs = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key for a user and show it once (only its hash is kept), or --revoke one."""
    now = utcnow()
    with unit_of_work() as uow:
        if revoke is not None:
            credentials.revoke_api_key(uow.session, actor=actor(as_user), prefix=revoke, now=now)
            uow.commit()
            console.print(f"API key {revoke} revoked")
            return
        expires_at = now + dt.timedelta(days=expires_in_days) if expires_in_days else None
        key = credentials.create_api_key(uow.session, actor=actor(as_user), username=username, name=name,
                                         now=now, expires_at=expires_at)  # fmt: skip
        uow.commit()
    if as_json:
        print_json({"username": username, "api_key": key, "expires_at": expires_at})
    else:
        console.print(f"API key for {username} (shown only now; store it safely):\n{key}", soft_wrap=True)


@app.command("assign")
@handle_errors
def assign_command(
    account_id: str,
    to: Annotated[str | None, typer.Option("--to", help="A collector's user name")] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Place with this agency")] = None,
    as_user: ActAs = None,
) -> None:
    """Assign an account to a collector, or place it with an agency."""
    if (to is None) == (agency is None):
        raise ValidationError("give exactly one of --to USER or --agency AGENCY", field="assignee")
    with unit_of_work() as uow:
        assign_account(uow.session, actor=actor(as_user), account_id=account_id, now=utcnow(), username=to,
                       agency=agency)  # fmt: skip
        uow.commit()
    console.print(f"{account_id} assigned to {to or 'agency ' + str(agency)}")


@app.command("matrix")
def matrix_command() -> None:
    """Print the permission matrix (role by permission) as Markdown."""
    sys.stdout.write(render_matrix_markdown())
