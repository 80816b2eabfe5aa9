"""The case list: filters, orders, balances and DPD from the ledger, visibility by role (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from arrears.access.service import add_user, assign_account
from arrears.cases.listing import list_cases
from arrears.cases.service import open_case, place_hold
from arrears.errors import PermissionDeniedError, ValidationError
from arrears.store.db import UnitOfWork
from tests.books import open_book

NOW = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 3, 1)

# account: (balance in fen, its single due date) — DPD on 2026-03-01 follows from the due date.
BOOK = {
    "A1": (500_000, dt.date(2026, 1, 10)),  # 50 days past due
    "A2": (2_000_000, dt.date(2026, 2, 10)),  # 19
    "A3": (100_000, dt.date(2025, 12, 10)),  # 81
}


@pytest.fixture
def book(engine: Engine) -> Engine:
    """Three debtors with one overdue account and one case each; users sup, col (assigned A2), aud."""
    open_book(engine, {ext: balance for ext, (balance, _) in BOOK.items()}, now=NOW,
              due_on={ext: due for ext, (_, due) in BOOK.items()})  # fmt: skip
    with UnitOfWork(engine) as uow:
        s = uow.session
        for ext in BOOK:
            open_case(s, debtor_external_id=f"D-{ext}", owner="team-a" if ext != "A3" else "team-b",
                      actor="loader", at=NOW)  # fmt: skip
        add_user(s, actor="installer", username="admin", roles=["administrator"], now=NOW)
        for name, role in [("sup", "supervisor"), ("col", "collector"), ("aud", "auditor")]:
            add_user(s, actor="admin", username=name, roles=[role], now=NOW)
        assign_account(s, actor="sup", account_id="A2", username="col", now=NOW)
        uow.commit()
    return engine


def _ids(engine: Engine, **kwargs: object) -> list[int]:
    with UnitOfWork(engine) as uow:
        return [r.case_id for r in list_cases(uow.session, as_of=AS_OF, **kwargs)]  # type: ignore[arg-type]


def test_supervisor_sees_every_open_case_largest_balance_first(book: Engine) -> None:
    with UnitOfWork(book) as uow:
        rows = list_cases(uow.session, actor="sup", as_of=AS_OF)
    assert [(r.case_id, r.debtor_id, r.total_minor, r.overdue_minor, r.dpd, r.accounts) for r in rows] == [
        (2, "D-A2", 2_000_000, 2_000_000, 19, 1),
        (1, "D-A1", 500_000, 500_000, 50, 1),
        (3, "D-A3", 100_000, 100_000, 81, 1),
    ]
    assert {(r.stage, r.owner, r.currency, r.holds) for r in rows} == {
        ("new", "team-a", "CNY", ()),
        ("new", "team-b", "CNY", ()),
    }
    assert _ids(book, actor="sup", order="dpd") == [3, 1, 2]
    assert _ids(book, actor="sup", order="id", limit=2) == [1, 2]
    assert _ids(book, actor="sup", min_dpd=50) == [1, 3]
    assert _ids(book, actor="sup", owner="team-b") == [3]
    assert _ids(book, actor="sup", stages=["legal"]) == []


def test_holds_filter_and_show(book: Engine) -> None:
    with UnitOfWork(book) as uow:
        place_hold(uow.session, case_id=1, kind="dispute", actor="sup", at=NOW)
        place_hold(uow.session, case_id=1, kind="complaint", actor="sup", at=NOW)
        uow.commit()
    with UnitOfWork(book) as uow:
        held = list_cases(uow.session, actor="sup", as_of=AS_OF, held=True)
    assert [(r.case_id, r.holds) for r in held] == [(1, ("complaint", "dispute"))]
    assert _ids(book, actor="sup", held=False) == [2, 3]


def test_a_collector_sees_only_assigned_cases_and_others_are_refused(book: Engine) -> None:
    assert _ids(book, actor="col") == [2]
    assert _ids(book, actor="aud", order="id") == [1, 2, 3]  # auditors read everything
    with UnitOfWork(book) as uow, pytest.raises(PermissionDeniedError, match="not an active arrears user"):
        list_cases(uow.session, actor="nobody", as_of=AS_OF)
    with UnitOfWork(book) as uow, pytest.raises(ValidationError, match="stage: 'open' is not a stage"):
        list_cases(uow.session, actor="sup", as_of=AS_OF, stages=["open"])
    with UnitOfWork(book) as uow, pytest.raises(ValidationError, match="order: 'size'"):
        list_cases(uow.session, actor="sup", as_of=AS_OF, order="size")
    with UnitOfWork(book) as uow, pytest.raises(ValidationError, match="limit"):
        list_cases(uow.session, actor="sup", as_of=AS_OF, limit=0)


def test_case_list_command(book: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from arrears.cli.main import app

    monkeypatch.setenv("ARREARS_DATABASE_URL", book.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA", "1")
    monkeypatch.setenv("ARREARS_ACTOR", "sup")
    runner = CliRunner()
    result = runner.invoke(app, ["case", "list", "--as-of", "2026-03-01", "--min-dpd", "20", "--json"])
    assert result.exit_code == 0, result.output
    assert [(r["case_id"], r["total_minor"], r["dpd"]) for r in json.loads(result.stdout)] == [
        (1, 500_000, 50),
        (3, 100_000, 81),
    ]
    shown = runner.invoke(app, ["case", "list", "--as-of", "2026-03-01"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "3 case(s) on 2026-03-01" in shown.stdout and "20000.00 CNY" in shown.stdout
    bad = runner.invoke(app, ["case", "list", "--order", "size"])
    assert bad.exit_code == 2 and "order: 'size'" in bad.output
    monkeypatch.setenv("ARREARS_ACTOR", "nobody")
    denied = runner.invoke(app, ["case", "list"])
    assert denied.exit_code == 6 and "not an active arrears user" in denied.output
