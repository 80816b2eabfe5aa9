"""``arrears queue``: building from a task file, rebuilding, showing, completing, bad input as one line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from arrears.allocation.tables import WorkItem
from arrears.cli.queue import app
from arrears.store.db import make_engine, upgrade
from tests.books import open_book

pytestmark = pytest.mark.usefixtures("cli_user")

runner = CliRunner()
NOW = dt.datetime(2026, 6, 20, 9, 0, tzinfo=dt.UTC)


def book(engine: Engine, balances: dict[str, int]) -> None:
    """Open CNY accounts with their balance in the ledger."""
    open_book(engine, balances, now=NOW)


def _ok(args: list[str]) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _one_line_error(args: list[str], text: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert text in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_build_show_complete_and_rebuild(cli_env: str, tmp_path: Path) -> None:
    engine = make_engine(cli_env)
    upgrade(engine)
    book(engine, {"A1": 100_000, "A2": 50_000, "A3": 30_000})
    _ok(["add-team", "t1", "--name", "Early"])
    _ok(["add-collector", "ana", "--team", "t1", "--capacity", "1", "--language", "zh", "--score", "3"])
    _ok(["add-collector", "bo", "--team", "t1", "--capacity", "5"])
    tasks = tmp_path / "tasks.csv"
    # Balances come from the ledger: A2 50000 × 0.5 = 25000, A1 100000 × 0.2 = 20000, A3 30000 × 0.1 = 3000.
    tasks.write_text("account,pay_probability,urgency,language\nA1,0.2,1,zh\nA2,0.5,0,zh\nA3,0.1,0,en\n")
    built = _ok(["build", "--tasks", str(tasks), "--as-of", "2026-06-20", "--method", "score"])
    assert {k: built[k] for k in ("queued", "assigned", "unassigned", "by_collector")} == {
        "queued": 3, "assigned": 3, "unassigned": 0, "by_collector": {"ana": 1, "bo": 2},
    }  # fmt: skip
    again = _ok(["build", "--tasks", str(tasks), "--as-of", "2026-06-20"])
    assert (again["queued"], again["assigned"]) == (0, 0)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(WorkItem)) == 3
    shown = _ok(["show", "bo", "--as-of", "2026-06-20"])
    assert [(i["account"], i["expected_recovery_minor"]) for i in shown["items"]] == [
        ("A1", 20_000),
        ("A3", 3_000),
    ]
    assert [i["account"] for i in _ok(["show", "ana", "--as-of", "2026-06-20"])["items"]] == ["A2"]
    item = shown["items"][0]["item"]
    denied = runner.invoke(app, ["complete", str(item), "--collector", "ana", "--outcome", "no_answer"])
    assert denied.exit_code == 6 and "not in ana's queue" in denied.stderr
    assert (
        _ok(["complete", str(item), "--collector", "bo", "--outcome", "promise_to_pay"])["status"] == "done"
    )
    assert [i["account"] for i in _ok(["show", "bo", "--as-of", "2026-06-20"])["items"]] == ["A3"]
    assert _ok(["reassign-idle", "--hours", "24"]) == {"moved": 0, "stuck": 0, "moves": []}
    engine.dispose()


def test_bad_input_is_one_line_and_exit_2(cli_env: str, tmp_path: Path) -> None:
    engine = make_engine(cli_env)
    upgrade(engine)
    book(engine, {"A1": 100_000})
    tasks = tmp_path / "tasks.csv"
    tasks.write_text("account,pay_probability\nA1,0.5\n")
    _one_line_error(["build", "--tasks", str(tasks), "--method", "fastest"], "unknown assignment method")
    _one_line_error(["build", "--tasks", str(tasks), "--as-of", "20 June"], "YYYY-MM-DD")
    _one_line_error(["build", "--tasks", str(tmp_path / "none.csv")], "no task file")
    bad = tmp_path / "bad.csv"
    bad.write_text("account,pay_probability\nA1,2\n")
    _one_line_error(["build", "--tasks", str(bad)], "between 0 and 1")
    _one_line_error(["reassign-idle", "--hours", "0"], "at least 1")
    _one_line_error(["add-collector", "x", "--team", "t1", "--capacity", "-3"], "daily capacity")
    missing = runner.invoke(app, ["show", "nobody"])
    assert missing.exit_code == 4 and "no collector" in missing.stderr
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(WorkItem)) == 0
    engine.dispose()
