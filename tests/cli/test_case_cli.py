"""``arrears case``: JSON output of each action, one-line errors and exit statuses."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from arrears.cli.case import app
from arrears.portfolio.products import ensure_builtin_products
from arrears.store import tables
from arrears.store.db import make_engine, upgrade

pytestmark = pytest.mark.usefixtures("cli_user")

runner = CliRunner()
T0 = dt.datetime(2026, 4, 20, 2, 0, tzinfo=dt.UTC)


def seed(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as s:
        ensure_builtin_products(s, now=T0)
        debtor = tables.Debtor(external_id="D1", jurisdiction="CN", language="zh", name="x", row_hash="h",
                               created_at=T0, updated_at=T0)  # fmt: skip
        s.add(debtor)
        s.flush()
        dues = [dt.date(2026, 2 + k, 10) for k in range(6)]
        account = tables.Account(
            external_id="A1", debtor_id=debtor.id, product_code="cn-consumer-loan", currency="CNY",
            principal_minor=600_000, annual_rate=0, term_months=6, schedule_method="equal-principal",
            opened_on=dt.date(2026, 1, 10), first_due_on=dues[0],
            schedule={"due_on": [d.isoformat() for d in dues], "principal": [100_000] * 6, "interest": [0] * 6},
            charged_through_on=dt.date(2026, 4, 20), status="open", row_hash="h", created_at=T0, updated_at=T0,
        )  # fmt: skip
        s.add(account)
        s.flush()
        s.add(tables.LedgerEntry(account_id=account.id, key="opening", kind="opening", effective_on=dt.date(2026, 4, 1),
                                 posted_at=T0, principal_minor=500_000, interest_minor=0, penalty_minor=3_000,
                                 compound_minor=0, fee_minor=0, cost_minor=0))  # fmt: skip
        s.commit()
    engine.dispose()


def ok(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_case_commands_walk_a_case(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(cli_env)
    assert ok("open", "D1") == {"case_id": 1, "stage": "new"}
    view = ok("show", "1", "--as-of", "2026-04-20")
    assert (view["stage"], view["total_minor"], view["accounts"][0]["dpd"]) == ("new", 503_000, 41)
    assert ok("log-contact", "1", "--channel", "call", "--outcome", "right_party_conversation", "--duration", "90") == {
        "contact_id": 1, "outcome": "right_party_conversation",
    }  # fmt: skip
    assert ok("verify-identity", "1", "--method", "one_time_code") == {"check_id": 1, "passed": True}
    assert ok("confirm", "1")["stage"] == "confirmed"
    pending = ok("settle", "1", "--amount", "4000.00", "--pay-by", "2099-01-01", "--reason", "lump sum",
                 "--as-of", "2026-04-20")  # fmt: skip
    assert pending == {"concession_id": 1, "kind": "settlement", "status": "pending_approval", "concession": "1030.00",
                       "currency": "CNY"}  # fmt: skip
    denied = runner.invoke(app, ["approve", "1", "--role", "collector", "--as-of", "2026-04-20"])
    assert denied.exit_code == 6
    assert denied.stderr.count("\n") == 1 and "permission_denied" in denied.stderr
    assert "cannot approve it too" in denied.stderr  # the requester may not approve their own offer
    monkeypatch.setenv("ARREARS_ACTOR", "sam")
    low = runner.invoke(app, ["approve", "1", "--role", "collector", "--as-of", "2026-04-20"])
    assert low.exit_code == 6 and "roles that may: administrator, legal, supervisor" in low.stderr
    assert ok("approve", "1", "--role", "supervisor", "--as-of", "2026-04-20")["status"] == "approved"
    monkeypatch.setenv("ARREARS_ACTOR", "tester")
    waiver = ok(
        "waive", "1", "--account", "A1", "--penalty", "30.00", "--reason", "goodwill", "--as-of", "2026-04-20"
    )
    assert (waiver["status"], waiver["concession"]) == ("applied", "30.00")
    assert [i["action"] for i in ok("timeline", "1") if i["kind"] == "event"][-2:] == [
        "case.settlement_approved", "case.waiver_requested",
    ]  # fmt: skip
    assert ok("escalate", "1", "--reason", "no payment")["stage"] == "escalated"
    assert ok("refer-legal", "1", "--as-of", "2026-04-20")["stage"] == "legal"
    step = ok("legal", "1", "--step", "demand_letter", "--cost", "200.00", "--account", "A1")
    assert step == {"case_id": 1, "step": "demand_letter", "costs_minor": 20_000}
    record = ok("close", "1", "--reason", "written_off", "--as-of", "2099-01-01")
    assert (record["reason"], record["remaining"]) == ("written_off", "5200.00")


def test_bad_input_is_one_line_and_exit_2(cli_env: str) -> None:
    seed(cli_env)
    ok("open", "D1")
    for args in (
        ["promise", "1", "--amount", "12.345", "--due", "2026-05-01"],
        ["promise", "1", "--amount", "10", "--due", "May 1st"],
        ["log-contact", "1", "--channel", "pigeon", "--outcome", "no_answer"],
        ["hold", "1", "--kind", "vacation"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("error [validation_error]") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr


def test_illegal_move_exits_5_naming_stage_and_event(cli_env: str) -> None:
    seed(cli_env)
    ok("open", "D1")
    result = runner.invoke(app, ["promise", "1", "--amount", "10", "--due", "2099-05-01"])
    assert result.exit_code == 5
    assert "cannot arrange a case in stage new" in result.stderr
    assert runner.invoke(app, ["show", "99"]).exit_code == 4
