"""``arrears agency``: refused placement writes nothing, paperwork, place, results, recall; bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from arrears.allocation.tables import Placement
from arrears.cli.agency import app
from arrears.store import tables as core
from arrears.store.db import make_engine, upgrade
from tests.books import open_book

pytestmark = pytest.mark.usefixtures("cli_user")

runner = CliRunner()
NOW = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


def book(engine: Engine, balances: dict[str, int]) -> None:
    """Open CNY accounts with their balance in the ledger, and one payment on A1."""
    open_book(engine, balances, now=NOW, payment_on_a1=dt.date(2026, 1, 5))


def _ok(args: list[str]) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            int(conn.scalar(select(func.count()).select_from(Placement)) or 0),
            int(conn.scalar(select(func.count()).select_from(core.AuditEvent)) or 0),
        )


def test_paperwork_place_results_and_recall(cli_env: str, tmp_path: Path) -> None:
    engine = make_engine(cli_env)
    upgrade(engine)
    book(engine, {"A1": 80_000, "A2": 40_000})
    added = _ok(["add", "acme", "--name", "Acme Recoveries", "--commission", "0.15", "--days", "60"])
    assert (added["commission_rate"], added["placement_days"]) == ("0.15", 60)
    before = _counts(engine)
    refused = runner.invoke(app, ["place", "acme", "--on", "2026-01-02", "--account", "A1"])
    assert refused.exit_code == 2
    assert (
        "compliance evaluation is never" in refused.stderr and "data-processing agreement" in refused.stderr
    )
    assert len(refused.stderr.strip().splitlines()) == 1
    assert _counts(engine) == before
    _ok(["evaluate", "acme", "--on", "2025-11-30"])
    _ok(["agreement", "acme", "--signed-on", "2025-11-01", "--reference", "DPA-2025-17"])
    accounts = tmp_path / "accounts.txt"
    accounts.write_text("account\nA1\nA2\n")
    placed = _ok(["place", "acme", "--on", "2026-01-02", "--accounts-file", str(accounts)])
    assert (placed["accounts"], placed["ends_on"], placed["balance_minor"]) == (
        2,
        "2026-03-03",
        {"CNY": 120_000},
    )
    results = _ok(["results", "acme", "--as-of", "2026-01-31"])["rows"]
    # 12000 of 120000 placed = 0.1; commission 12000 × 0.15 = 1800.
    assert [(r["vintage"], r["months_since_placement"], r["collected_minor"], r["liquidation_rate"],
             r["commission_minor"]) for r in results] == [("2026-01", 0, 12_000, "0.100000", 1_800)]  # fmt: skip
    recalled = _ok(["recall", "acme", "--on", "2026-01-20", "--account", "A2", "--reason", "complaint"])
    assert recalled["recalled"] == {"complaint": 1}
    expired = _ok(["recall", "--expired", "--on", "2026-03-03"])
    assert expired["recalled"] == {"term_expired": 1}
    assert [a["code"] for a in _ok(["list"])] == ["acme"]
    engine.dispose()


def test_bad_input_is_one_line_and_exit_2(cli_env: str) -> None:
    engine = make_engine(cli_env)
    upgrade(engine)
    for args, text in (
        (["add", "x", "--name", "X", "--commission", "25%", "--days", "30"], "not a number"),
        (["add", "x", "--name", "X", "--commission", "1.2", "--days", "30"], "from 0 to 1"),
        (["evaluate", "x", "--on", "yesterday"], "YYYY-MM-DD"),
        (["place", "x", "--on", "2026-01-02"], "--account"),
        (["recall", "x", "--expired"], "--expired alone"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert text in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    missing = runner.invoke(app, ["results", "nobody", "--as-of", "2026-01-31"])
    assert missing.exit_code == 4 and "no agency" in missing.stderr
    assert _counts(engine) == (0, 0)
    engine.dispose()
