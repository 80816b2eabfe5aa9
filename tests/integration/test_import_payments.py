"""Importing payments on SQLite and PostgreSQL: waterfall allocation, ordering, idempotency, bounces."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select

from arrears.portfolio.accounts_import import import_accounts
from arrears.portfolio.payments_import import import_payments
from arrears.portfolio.service import account_view
from arrears.store import tables
from arrears.store.db import UnitOfWork

from .test_import_accounts import INTEREST_BALANCE, PRINCIPAL_BALANCE, good_row, read_rejects, write_csv

NOW = dt.datetime(2026, 6, 25, 9, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 6, 25)
PAYMENT_HEADER = [
    "payment_id",
    "account_id",
    "amount",
    "currency",
    "received_on",
    "channel",
    "reverses_payment_id",
]


def write_payments(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=PAYMENT_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def pay(pid: str, account: str, amount: str, on: str, **extra: str) -> dict[str, str]:
    return {"payment_id": pid, "account_id": account, "amount": amount, "received_on": on, "channel": "alipay",
            **extra}  # fmt: skip


def setup_accounts(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "accounts.csv", [good_row("A1"), good_row("A2"), good_row("A3")])
    assert import_accounts(engine=engine, path=path, actor="tester", now=NOW).rows_inserted == 3


def balances(engine: Engine, account: str) -> dict[str, Decimal]:
    with UnitOfWork(engine) as uow:
        return account_view(uow.session, account, as_of=AS_OF).balances


def test_payments_follow_the_product_waterfall_in_order(engine: Engine, tmp_path: Path) -> None:
    setup_accounts(engine, tmp_path)
    path = write_payments(tmp_path / "payments.csv", [
        pay("P2", "A1", "300.00", "2026-06-22"),
        pay("P1", "A1", "100.00", "2026-06-21"),
        pay("P3", "A2", "400.00", "2026-06-22"),
        pay("P4", "NOPE", "10.00", "2026-06-22"),
        pay("P5", "A2", "10.00", "2026-06-22", currency="USD"),
        pay("P6", "A2", "10.001", "2026-06-22"),
        pay("P3", "A3", "1.00", "2026-06-22"),
        pay("P7", "A3", "0", "2026-06-22"),
    ])  # fmt: skip
    report = import_payments(engine=engine, path=path, actor="tester", now=NOW)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected, report.exit_code) == (8, 3, 5, 3)
    assert report.rejects_path is not None
    assert read_rejects(report.rejects_path)[1:] == [
        ["payments.csv", "4", "account_id", "no account 'NOPE' has been imported"],
        ["payments.csv", "5", "currency", "is USD but the account is in CNY"],
        ["payments.csv", "6", "amount", "has more decimal places than CNY allows"],
        ["payments.csv", "7", "payment_id", "repeats row 3; only the first row of a payment_id is imported"],
        ["payments.csv", "8", "amount", "must be greater than zero"],
    ]
    # cn-bank-contract: costs, fees, 罚息, 复利, interest, principal. P1 (earlier value date) goes first:
    # fee 50.00, penalty 12.34, interest 37.66; then P2: interest 172.91 - 37.66 = 135.25, principal 164.75.
    with UnitOfWork(engine) as uow:
        view = account_view(uow.session, "A1", as_of=AS_OF)
    payments = [
        (e["key"], e["fee"], e["penalty"], e["interest"], e["principal"])
        for e in view.ledger
        if e["kind"] == "payment"
    ]
    assert payments == [
        ("payment:P1", Decimal("-50.00"), Decimal("-12.34"), Decimal("-37.66"), Decimal("0.00")),
        ("payment:P2", Decimal("0.00"), Decimal("0.00"), Decimal("-135.25"), Decimal("-164.75")),
    ]
    assert view.balances["principal"] == PRINCIPAL_BALANCE - Decimal("164.75")
    assert view.balances["interest"] == view.balances["fee"] == view.balances["penalty"] == Decimal("0.00")
    # A2 paid 400.00 in one go: the same result as A1's two payments of 100.00 and 300.00.
    assert balances(engine, "A2") == view.balances
    assert balances(engine, "A3")["principal"] == PRINCIPAL_BALANCE

    again = import_payments(engine=engine, path=path, actor="tester", now=NOW)
    assert (again.rows_inserted, again.rows_unchanged, again.rows_rejected) == (0, 3, 5)
    assert balances(engine, "A1") == view.balances


def test_overpayment_is_kept_as_unapplied(engine: Engine, tmp_path: Path) -> None:
    setup_accounts(engine, tmp_path)
    owed = PRINCIPAL_BALANCE + INTEREST_BALANCE + Decimal("62.34")
    path = write_payments(tmp_path / "p.csv", [pay("P1", "A1", str(owed + Decimal("5.00")), "2026-06-22")])
    import_payments(engine=engine, path=path, actor="tester", now=NOW)
    with UnitOfWork(engine) as uow:
        view = account_view(uow.session, "A1", as_of=AS_OF)
    assert view.total == Decimal("0.00")
    assert view.payments[0]["unapplied"] == Decimal("5.00")
    assert (view.dpd, view.overdue) == (0, Decimal("0.00"))


def test_a_bounced_payment_is_reversed_and_later_payments_reallocated(engine: Engine, tmp_path: Path) -> None:
    setup_accounts(engine, tmp_path)
    first = write_payments(tmp_path / "p1.csv", [
        pay("P1", "A1", "100.00", "2026-06-21"),
        pay("P2", "A1", "300.00", "2026-06-22"),
        pay("Q1", "A2", "300.00", "2026-06-22"),
    ])  # fmt: skip
    import_payments(engine=engine, path=first, actor="tester", now=NOW)
    bounce = write_payments(tmp_path / "p2.csv", [
        pay("B1", "A1", "100.00", "2026-06-24", reverses_payment_id="P1"),
        pay("B2", "A1", "100.00", "2026-06-24", reverses_payment_id="P1"),
        pay("B3", "A1", "99.00", "2026-06-24", reverses_payment_id="P2"),
        pay("B4", "A2", "300.00", "2026-06-24", reverses_payment_id="P2"),
    ])  # fmt: skip
    report = import_payments(engine=engine, path=bounce, actor="tester", now=NOW)
    assert (report.rows_inserted, report.rows_rejected) == (1, 3)
    assert report.rejects_path is not None
    assert [r[1:] for r in read_rejects(report.rejects_path)[1:]] == [
        ["2", "reverses_payment_id", "payment 'P1' is already reversed"],
        ["3", "reverses_payment_id", "amount must equal the reversed payment's amount (300.00)"],
        ["4", "reverses_payment_id", "payment 'P2' was not made to account 'A2'"],
    ]
    # Without P1, P2 alone is allocated as Q1 was on the identical account A2.
    assert balances(engine, "A1") == balances(engine, "A2")
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(tables.Payment.external_id, tables.Payment.status)).all())
        entries = conn.execute(select(func.count()).select_from(tables.LedgerEntry)).scalar_one()
    assert statuses == {"P1": "reversed", "P2": "posted", "Q1": "posted", "B1": "reversal"}
    # 3 openings, 3 payments, the two reversals (P1, P2's first allocation) and P2 re-allocated.
    assert entries == 3 + 3 + 2 + 1
    again = import_payments(engine=engine, path=bounce, actor="tester", now=NOW)
    assert again.rows_inserted == 0
    assert balances(engine, "A1") == balances(engine, "A2")
