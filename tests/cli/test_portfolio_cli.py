"""The foundation's commands as a user runs them: exit statuses, messages, JSON output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arrears.cli import users
from arrears.cli.main import app
from arrears.store import personal
from tests.integration.test_import_accounts import good_row, write_csv

runner = CliRunner()


@pytest.fixture(autouse=True)
def _plaintext_personal_data(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Development mode: no key file in these tests (encryption is tested with the privacy commands).
    monkeypatch.setenv("ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA", "1")
    before = personal.codec()
    yield
    personal.set_codec(before)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def upgrade_and_add_tester(role: str = "administrator") -> None:
    """A new installation: the schema, then its first user (ARREARS_ACTOR=tester) as administrator."""
    assert run("db", "upgrade")[0] == 0
    result = runner.invoke(users.app, ["add", "tester", "--role", role])
    assert result.exit_code == 0, result.stderr


def test_commands_refuse_a_database_that_was_not_upgraded(cli_env: str, tmp_path: Path) -> None:
    code, out, err = run("portfolio", "summary")
    assert code == 2
    assert "has no arrears schema; run `arrears db upgrade` first" in err
    assert "Traceback" not in out + err


def test_import_exit_statuses_and_reports(cli_env: str, tmp_path: Path) -> None:
    upgrade_and_add_tester()
    assert run("db", "upgrade")[0] == 0  # safe to run again

    clean = write_csv(tmp_path / "clean.csv", [good_row("A1"), good_row("A2")])
    code, out, _ = run("import", "accounts", str(clean))
    assert code == 0
    assert "clean.csv: 2 rows read — 2 added, 0 updated, 0 unchanged, 0 rejected" in out

    mixed = write_csv(tmp_path / "mixed.csv", [good_row("A3"), good_row("A4", term_months="0")])
    code, out, _ = run("import", "accounts", str(mixed), "--json")
    assert code == 3
    report = json.loads(out)
    assert (report["inserted"], report["rejected"]) == (1, 1)
    assert report["rejects_file"] == str(tmp_path / "mixed.csv.rejects.csv")
    rejects = (tmp_path / "mixed.csv.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects == ["file,row,field,reason", "mixed.csv,2,term_months,must be between 1 and 600"]

    (tmp_path / "broken.csv").write_text("account_id,principal\nA9,1\n", encoding="utf-8")
    code, out, err = run("import", "accounts", str(tmp_path / "broken.csv"))
    assert code == 2
    assert "missing required column(s) debtor_id, debtor_name, product" in err
    assert "Traceback" not in out + err
    code, _, err = run("import", "accounts", str(tmp_path / "absent.csv"))
    assert code == 2 and "no such file" in err

    payments = tmp_path / "payments.csv"
    payments.write_text(
        "payment_id,account_id,amount,received_on\nP1,A1,100.00,2026-06-21\nP2,ZZ,1.00,2026-06-21\n",
        encoding="utf-8",
    )
    code, out, _ = run("import", "payments", str(payments))
    assert code == 3
    assert "payments.csv: 2 rows read — 1 added, 0 updated, 0 unchanged, 1 rejected" in out


def test_account_show_and_summary(cli_env: str, tmp_path: Path) -> None:
    upgrade_and_add_tester()
    run("import", "accounts", str(write_csv(tmp_path / "a.csv", [good_row("A1")])))
    code, out, _ = run("account", "show", "A1", "--as-of", "2026-06-20", "--json")
    assert code == 0
    view = json.loads(out)
    assert (view["dpd"], view["bucket"], view["oldest_unpaid_due_on"]) == (41, "M2", "2026-05-10")
    assert view["balances"]["penalty"] == "12.34"
    assert view["debtor"]["national_id"] == "110***********002X"

    code, out, _ = run("account", "show", "A1", "--as-of", "2026-06-20")
    assert code == 0
    assert "days past due 41  bucket M2 (cn)" in out
    assert "11010519491231002X" not in out

    code, out, err = run("account", "show", "NOPE")
    assert code == 4 and "no account 'NOPE'" in err
    code, _, err = run("account", "show", "A1", "--as-of", "20-06-2026")
    assert code == 2 and "--as-of" in err

    code, out, _ = run("portfolio", "summary", "--as-of", "2026-06-20", "--json")
    assert code == 0
    buckets = json.loads(out)["buckets"]
    assert [(b["bucket"], b["accounts"], b["currency"]) for b in buckets] == [("M2", 1, "CNY")]

    code, out, _ = run("product", "list", "--json")
    assert code == 0
    assert json.loads(out)["cn-consumer-loan"]["allocation"] == "cn-bank-contract"


def test_product_add_validates_before_writing(cli_env: str, tmp_path: Path) -> None:
    upgrade_and_add_tester()
    bad = tmp_path / "products.toml"
    bad.write_text(
        '[[product]]\ncode = "x-loan"\nname = "X"\nkind = "closed-end"\ncurrency = "CNY"\n'
        'allocation = "cn-bank-contract"\nbucket_scheme = "cn"\ncharge_off_dpd = 0\n',
        encoding="utf-8",
    )
    code, _, err = run("product", "add", str(bad))
    assert code == 2
    assert "x-loan" in err and "charge_off_dpd" in err
    code, out, _ = run("product", "list", "--json")
    assert "x-loan" not in json.loads(out)


def test_commands_check_the_actors_permissions(cli_env: str, tmp_path: Path) -> None:
    upgrade_and_add_tester()
    for name, role in [("ro", "read_only"), ("col", "collector"), ("sup", "supervisor")]:
        assert runner.invoke(users.app, ["add", name, "--role", role]).exit_code == 0
    accounts = write_csv(tmp_path / "a.csv", [good_row("A1")])
    code, _, err = run("import", "accounts", str(accounts), "--as", "ro")
    assert code == 6 and "may not do this: it needs the 'import_data' permission" in err
    code, out, _ = run("portfolio", "summary", "--as-of", "2026-06-20", "--json", "--as", "ro")
    assert (code, json.loads(out)["buckets"]) == (0, [])  # the refused import wrote nothing
    assert run("import", "accounts", str(accounts), "--as", "sup")[0] == 0
    assert run("db", "upgrade", "--as", "sup")[0] == 6
    assert run("portfolio", "summary", "--as", "col")[0] == 6
    code, _, err = run("account", "show", "A1", "--as", "col")
    assert code == 4 and "no account 'A1' that you may see" in err
    code, _, err = run("account", "show", "A1", "--reveal", "--as", "ro")
    assert code == 6 and "reveal_personal_data" in err
    code, out, _ = run("account", "show", "A1", "--as-of", "2026-06-20", "--reveal", "--json", "--as", "sup")
    assert code == 0 and json.loads(out)["debtor"]["national_id"] == "11010519491231002X"
    code, _, err = run("account", "show", "A1", "--as", "nobody")
    assert code == 6 and "'nobody' is not an active arrears user" in err
