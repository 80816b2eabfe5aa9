"""`arrears users ...` as a user runs it: bootstrap administrator, exit statuses, JSON, no tracebacks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from arrears.cli.users import app
from arrears.store import personal
from arrears.store.db import make_engine, upgrade

runner = CliRunner()


@pytest.fixture
def db(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    engine = make_engine(cli_env)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA", "1")
    before = personal.codec()
    yield cli_env
    personal.set_codec(before)


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_users_commands(db: str) -> None:
    code, _, err = run("add", "bob", "--role", "collector", "--as", "installer")
    assert (code, "the first user of an installation must be an administrator" in err) == (6, True)
    code, out, _ = run("add", "admin", "--role", "administrator", "--as", "installer", "--json")
    assert code == 0 and json.loads(out) == {"username": "admin", "roles": ["administrator"], "agency": None}
    # ARREARS_ACTOR is "tester" (not a user): refused with exit 6 and a message saying what to do.
    code, _, err = run("add", "bob", "--role", "collector")
    assert code == 6 and "'tester' is not an active arrears user" in err
    assert run("add", "bob", "--role", "collector", "--as", "admin")[0] == 0
    assert run("add", "Bad Name", "--role", "collector", "--as", "admin")[0] == 2
    assert run("add", "eve", "--role", "boss", "--as", "admin")[0] == 2
    assert run("add", "bob", "--role", "collector", "--as", "admin")[0] == 5
    assert run("grant", "bob", "auditor", "--as", "admin", "--json")[1] == (
        json.dumps({"username": "bob", "roles": ["auditor", "collector"]}, indent=2) + "\n"
    )
    assert run("revoke", "bob", "auditor", "--as", "admin")[0] == 0
    assert run("revoke", "admin", "administrator", "--as", "admin")[0] == 5
    assert run("grant", "bob", "administrator", "--as", "bob")[0] == 6
    assert run("set-password", "bob", "--password-stdin", "--as", "bob", stdin="short\n")[0] == 2
    assert run("set-password", "bob", "--password-stdin", "--as", "bob", stdin="a long passphrase\n")[0] == 0
    code, out, _ = run("api-key", "bob", "--name", "reports", "--as", "bob", "--json")
    key = json.loads(out)["api_key"]
    assert code == 0 and key.startswith("ark_")
    code, out, _ = run("list", "--as", "admin", "--json")
    listed = {u["username"]: (u["roles"], u["has_password"]) for u in json.loads(out)["users"]}
    assert listed == {"admin": (["administrator"], False), "bob": (["collector"], True)}
    assert run("list", "--as", "bob")[0] == 6
    engine = make_engine(db)
    with engine.connect() as conn:
        stored = " ".join(str(r) for r in conn.execute(text("SELECT * FROM api_keys")))
        actions = conn.execute(text("SELECT action FROM audit_events ORDER BY id")).scalars().all()
    engine.dispose()
    assert key not in stored and key.split("_", 2)[2] not in stored
    assert actions == ["access.user_added", "access.user_added", "access.role_granted", "access.role_revoked",
                       "access.password_set", "access.api_key_created"]  # fmt: skip


def test_matrix_command() -> None:
    result = runner.invoke(app, ["matrix"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("| permission | administrator |")
