"""Every command checks the acting user's permission first, from one table."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from arrears.cli.guard import COMMANDS
from arrears.cli.main import app
from arrears.store import tables
from arrears.store.db import make_engine
from tests.integration.test_import_accounts import good_row, write_csv

runner = CliRunner()


def _commands() -> set[str]:
    found: set[str] = set()

    def walk(command: object, prefix: str) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            found.add(prefix)

    walk(typer.main.get_command(app), "")
    return found


def test_every_command_has_exactly_one_rule() -> None:
    assert _commands() == set(COMMANDS)


def run(*args: str, as_user: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"ARREARS_ACTOR": as_user})
    return result.exit_code, result.stderr


def test_denied_commands_exit_6_and_change_nothing(cli_env: str) -> None:
    assert run("db", "upgrade", as_user="admin")[0] == 0
    assert run("users", "add", "admin", "--role", "administrator", as_user="admin")[0] == 0
    assert run("users", "add", "audra", "--role", "auditor", as_user="admin")[0] == 0
    assert run("users", "add", "rita", "--role", "read_only", as_user="admin")[0] == 0
    engine = make_engine(cli_env)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(tables.AuditEvent)).scalar_one()

    code, err = run("case", "hold", "1", "--kind", "dispute", as_user="audra")
    assert code == 6 and "permission_denied" in err and "work_cases" in err
    code, err = run("run-day", "--as-of", "2026-11-20", as_user="rita")
    assert code == 6 and "manage_strategy" in err
    code, err = run("audit", "checkpoint", as_user="audra")
    assert code == 6 and "manage_audit" in err
    code, err = run("case", "hold", "1", "--kind", "dispute", as_user="nobody")
    assert code == 6 and "not an active arrears user" in err

    with engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(tables.AuditEvent)).scalar_one()
        runs = conn.execute(select(func.count()).select_from(tables.ImportRun)).scalar_one()
    engine.dispose()
    assert (after, runs) == (before, 0)
    # Reading the audit log is what an auditor may do.
    assert run("audit", "verify", as_user="audra")[0] == 0


def test_collectors_work_only_the_cases_assigned_to_them(cli_env: str, tmp_path: Path) -> None:
    assert run("db", "upgrade", as_user="admin")[0] == 0
    assert run("users", "add", "admin", "--role", "administrator", as_user="admin")[0] == 0
    assert run("users", "add", "sue", "--role", "supervisor", as_user="admin")[0] == 0
    assert run("users", "add", "cole", "--role", "collector", as_user="admin")[0] == 0
    accounts = write_csv(tmp_path / "a.csv", [good_row("A1")])
    assert run("import", "accounts", str(accounts), as_user="admin")[0] == 0
    assert run("case", "open", "D1", as_user="sue")[0] == 0

    code, err = run("case", "show", "1", "--as-of", "2026-06-20", as_user="cole")
    assert code == 6 and "case 1 is not assigned to 'cole'" in err
    assert run("users", "assign", "A1", "--to", "cole", as_user="sue")[0] == 0
    assert run("case", "show", "1", "--as-of", "2026-06-20", as_user="cole")[0] == 0
