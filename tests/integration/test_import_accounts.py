"""Importing accounts on SQLite and PostgreSQL: balances, schedules, DPD, idempotency, rejects, atomicity."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from arrears.domain.money import to_minor
from arrears.domain.schedules import build_schedule
from arrears.errors import FileFormatError
from arrears.portfolio import accounts_import
from arrears.portfolio.accounts_import import import_accounts
from arrears.portfolio.service import account_view, portfolio_summary
from arrears.store import tables
from arrears.store.db import UnitOfWork

NOW = dt.datetime(2026, 6, 20, 9, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 6, 20)

HEADER = [
    "account_id", "debtor_id", "debtor_name", "product", "principal", "annual_rate", "term_months",
    "opened_on", "balances_as_of", "principal_balance", "interest_balance", "penalty_balance",
    "fee_balance", "national_id", "mobile_phone", "email", "emergency_contact_name",
    "emergency_contact_relation", "emergency_contact_phone",
]  # fmt: skip

SCHEDULE = build_schedule(
    principal=Decimal("12000.00"),
    annual_rate=Decimal("0.12"),
    months=12,
    method="equal-installment",
    start_date=dt.date(2026, 1, 10),
)
INST = SCHEDULE.installments
# Instalments 1-3 paid; 4 (due 2026-05-10) and 5 (due 2026-06-10) unpaid on 2026-06-20.
PRINCIPAL_BALANCE = Decimal("12000.00") - sum((i.principal for i in INST[:3]), Decimal(0))
INTEREST_BALANCE = INST[3].interest + INST[4].interest


def good_row(account: str = "A1", debtor: str = "D1", **overrides: str) -> dict[str, str]:
    row = {
        "account_id": account,
        "debtor_id": debtor,
        "debtor_name": "张伟",
        "product": "cn-consumer-loan",
        "principal": "12000.00",
        "annual_rate": "0.12",
        "term_months": "12",
        "opened_on": "2026-01-10",
        "balances_as_of": "2026-06-20",
        "principal_balance": str(PRINCIPAL_BALANCE),
        "interest_balance": str(INTEREST_BALANCE),
        "penalty_balance": "12.34",
        "fee_balance": "50.00",
        "national_id": "11010519491231002X",
        "mobile_phone": "138 0013 8000",
        "email": "Zhang.Wei@Example.com",
        "emergency_contact_name": "李娜",
        "emergency_contact_relation": "spouse",
        "emergency_contact_phone": "13900139000",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], *, bom: bool = False) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_rejects(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.reader(fh))


COUNTED = (tables.Debtor, tables.Account, tables.LedgerEntry, tables.ContactPoint, tables.Person,
           tables.ImportRun, tables.AuditEvent)  # fmt: skip


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in COUNTED
        }


def test_import_builds_balances_schedule_and_dpd(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "accounts.csv", [good_row()], bom=True)
    report = import_accounts(engine=engine, path=path, actor="tester", now=NOW)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected, report.exit_code) == (1, 1, 0, 0)
    assert report.rejects_path is None
    assert not (tmp_path / "accounts.csv.rejects.csv").exists()

    with UnitOfWork(engine) as uow:
        view = account_view(uow.session, "A1", as_of=AS_OF)
    assert view.balances == {
        "principal": PRINCIPAL_BALANCE,
        "interest": INTEREST_BALANCE,
        "penalty": Decimal("12.34"),
        "compound": Decimal("0.00"),
        "fee": Decimal("50.00"),
        "cost": Decimal("0.00"),
    }
    # Contractual DPD: the oldest unpaid instalment fell due on 2026-05-10; 2026-06-20 is 41 days later.
    assert view.oldest_unpaid_due_on == dt.date(2026, 5, 10)
    assert view.dpd == 41
    assert view.bucket == "M2"
    assert view.overdue == INST[3].payment + INST[4].payment
    assert [s["state"] for s in view.schedule] == ["paid"] * 3 + ["overdue"] * 2 + ["due"] * 7
    assert [(s["due_on"], s["principal"], s["interest"]) for s in view.schedule] == [
        (i.due_on, i.principal, i.interest) for i in INST
    ]
    # Personal data is masked unless revealed.
    assert view.debtor["name"] == "张*"
    assert view.debtor["national_id"] == "110***********002X"
    contacts = {(c["kind"], c["place"]): c["value"] for c in view.debtor["contacts"]}
    assert contacts[("phone", "mobile")] == "+86 138****8000"
    assert contacts[("email", "other")] == "Z***@Example.com"
    with UnitOfWork(engine) as uow:
        revealed = account_view(uow.session, "A1", as_of=AS_OF, reveal=True)
        lookups = uow.session.scalars(
            select(tables.ContactPoint.lookup).order_by(tables.ContactPoint.id)
        ).all()
        person = uow.session.scalars(select(tables.Person)).one()
        person_fields = (person.role, person.relation, person.name)
    assert revealed.debtor["national_id"] == "11010519491231002X"
    assert "+8613800138000" in lookups and "zhang.wei@example.com" in lookups and "+8613900139000" in lookups
    assert person_fields == ("emergency_contact", "spouse", "李娜")
    # Later, instalment 6 (due 2026-07-10) falls due unpaid too; its interest counts as overdue even
    # before the daily cycle posts it. 2026-07-15 is 66 days after 2026-05-10.
    with UnitOfWork(engine) as uow:
        later = account_view(uow.session, "A1", as_of=dt.date(2026, 7, 15))
    assert (later.dpd, later.bucket) == (66, "M3")
    assert later.overdue == INST[3].payment + INST[4].payment + INST[5].payment


def test_same_file_twice_adds_nothing_and_a_changed_row_updates(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "accounts.csv", [good_row("A1"), good_row("A2", principal_balance="11000.00",
                                                                           interest_balance="0")])  # fmt: skip
    first = import_accounts(engine=engine, path=path, actor="tester", now=NOW)
    assert (first.rows_inserted, first.rows_unchanged) == (2, 0)
    before = table_counts(engine)
    again = import_accounts(engine=engine, path=path, actor="tester", now=NOW)
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged, again.rows_rejected) == (
        0,
        0,
        2,
        0,
    )
    after = table_counts(engine)
    assert {k: after[k] - before[k] for k in after} == {
        "debtors": 0, "accounts": 0, "ledger_entries": 0, "contact_points": 0, "persons": 0,
        "import_runs": 1, "audit_events": 1,
    }  # fmt: skip

    # The loan system restates A1: a payment of the penalty and fee arrived there.
    write_csv(path, [good_row("A1", penalty_balance="0", fee_balance="0", mobile_phone="13700137000"),
                     good_row("A2", principal_balance="11000.00", interest_balance="0")])  # fmt: skip
    changed = import_accounts(engine=engine, path=path, actor="tester", now=NOW)
    assert (changed.rows_inserted, changed.rows_updated, changed.rows_unchanged) == (0, 1, 1)
    with UnitOfWork(engine) as uow:
        view = account_view(uow.session, "A1", as_of=AS_OF)
        version = uow.session.scalars(
            select(tables.Account.version).where(tables.Account.external_id == "A1")
        ).one()
        phones = uow.session.scalars(select(tables.ContactPoint.lookup).where(tables.ContactPoint.kind == "phone",
                                     tables.ContactPoint.person_id.is_(None))).all()  # fmt: skip
    assert view.balances["penalty"] == Decimal("0.00") and view.balances["fee"] == Decimal("0.00")
    assert view.balances["principal"] == PRINCIPAL_BALANCE
    # The ledger was not edited: the opening entry stands and an adjustment restates the difference.
    assert [(e["kind"], e["penalty"], e["fee"]) for e in view.ledger] == [
        ("opening", Decimal("12.34"), Decimal("50.00")),
        ("adjustment", Decimal("-12.34"), Decimal("-50.00")),
    ]
    assert version == 2
    assert sorted(phones) == ["+8613700137000", "+8613800138000"]
    third = import_accounts(engine=engine, path=path, actor="tester", now=NOW)
    assert (third.rows_updated, third.rows_unchanged) == (0, 2)


def test_mixed_file_keeps_good_rows_and_names_every_bad_one(engine: Engine, tmp_path: Path) -> None:
    rows = [
        good_row("A1"),
        good_row("A2", principal="12,000.005"),
        good_row("A3", national_id="110105194912310021"),
        good_row("A4", balances_as_of="20/06/2026", product="no-such-product"),
        good_row("A5", debtor="D5", mobile_phone="12345", email="not-an-email"),
        good_row("A1"),
        good_row("A6", principal_balance="13000.00"),
        good_row("A7", principal_balance="1000.00"),
        good_row("A8", debtor_name=""),
        good_row("A9", debtor="D9"),
    ]
    path = write_csv(tmp_path / "mixed.csv", rows)
    report = import_accounts(engine=engine, path=path, actor="tester", now=NOW)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected, report.exit_code) == (10, 2, 8, 3)
    assert report.rejects_path == tmp_path / "mixed.csv.rejects.csv"
    rejects = read_rejects(report.rejects_path)
    assert rejects[0] == ["file", "row", "field", "reason"]
    assert rejects[1:] == [
        ["mixed.csv", "2", "principal", "has more decimal places than CNY allows"],
        ["mixed.csv", "3", "national_id", "check digit is wrong; expected X"],
        ["mixed.csv", "4", "balances_as_of", "'20/06/2026' is not a date in the form YYYY-MM-DD"],
        ["mixed.csv", "4", "product", "unknown product 'no-such-product'; see `arrears product list`"],
        ["mixed.csv", "5", "email", "'not-an-email' is not an email address"],
        ["mixed.csv", "5", "mobile_phone", "'12345' is not a valid phone number for CN"],
        ["mixed.csv", "6", "account_id", "repeats row 1; only the first row of an account_id is imported"],
        ["mixed.csv", "7", "principal_balance", "is more than the principal lent"],
        ["mixed.csv", "8", "principal_balance",
         "is below the principal not yet due by the schedule; send the rescheduled due_schedule"],
        ["mixed.csv", "9", "debtor_name", "is required"],
    ]  # fmt: skip
    with engine.connect() as conn:
        stored = conn.scalars(select(tables.Account.external_id).order_by(tables.Account.external_id)).all()
        debtors = conn.scalars(select(tables.Debtor.external_id).order_by(tables.Debtor.external_id)).all()
    assert stored == ["A1", "A9"]
    assert debtors == ["D1", "D9"]


def test_file_that_cannot_be_used_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    before = table_counts(engine)
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileFormatError, match="no such file"):
        import_accounts(engine=engine, path=missing, actor="tester", now=NOW)
    odd = tmp_path / "accounts.xlsx"
    odd.write_text("x")
    with pytest.raises(FileFormatError, match="unknown file format"):
        import_accounts(engine=engine, path=odd, actor="tester", now=NOW)
    short = tmp_path / "short.csv"
    short.write_text("account_id,debtor_id\nA1,D1\n")
    with pytest.raises(FileFormatError, match="missing required column") as caught:
        import_accounts(engine=engine, path=short, actor="tester", now=NOW)
    assert caught.value.fields["missing"][:2] == ["debtor_name", "product"]
    assert table_counts(engine) == before


@pytest.mark.parametrize("first_load", [True, False], ids=["first-load", "into-a-book"])
def test_a_failure_midway_leaves_nothing_behind(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first_load: bool
) -> None:
    if not first_load:
        import_accounts(
            engine=engine, path=write_csv(tmp_path / "book.csv", [good_row("B1", "DB1")]), actor="t", now=NOW
        )
    path = write_csv(tmp_path / "accounts.csv", [good_row("A1"), good_row("A2")])
    before = table_counts(engine)
    real = accounts_import._with_ids

    def broken(conn: object, table: str, frame: pl.DataFrame) -> pl.DataFrame:
        # debtors, contact points and accounts are written by now; the ledger entries fail
        if table == "ledger_entries":
            raise RuntimeError("disk full")
        return real(conn, table, frame)

    monkeypatch.setattr(accounts_import, "_with_ids", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        import_accounts(engine=engine, path=path, actor="tester", now=NOW)
    assert table_counts(engine) == before
    assert not (tmp_path / "accounts.csv.rejects.csv").exists()


def test_parquet_and_jsonl_import_like_csv(engine: Engine, tmp_path: Path) -> None:
    frame = pl.DataFrame([good_row("P1", "DP1"), good_row("P2", "DP2", principal="oops")])
    frame.write_parquet(tmp_path / "a.parquet")
    frame.with_columns(
        pl.col("account_id").str.replace("P", "J"), pl.col("debtor_id").str.replace("P", "J")
    ).write_ndjson(tmp_path / "a.jsonl")
    for name in ("a.parquet", "a.jsonl"):
        report = import_accounts(engine=engine, path=tmp_path / name, actor="tester", now=NOW)
        assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (2, 1, 1)
    with UnitOfWork(engine) as uow:
        assert account_view(uow.session, "P1", as_of=AS_OF).dpd == 41
        assert account_view(uow.session, "J1", as_of=AS_OF).dpd == 41


def test_explicit_due_schedule(engine: Engine, tmp_path: Path) -> None:
    items = [
        {"due_on": "2026-03-01", "principal": "400.00", "interest": "30.00"},
        {"due_on": "2026-04-01", "principal": "300.00", "interest": "20.00"},
        {"due_on": "2026-07-01", "principal": "300.00", "interest": "10.00"},
    ]
    header = [*HEADER, "due_schedule"]
    rows = [
        {**good_row("E1", principal="1000.00", principal_balance="600.00", interest_balance="20.00"),
         "due_schedule": json.dumps(items)},
        {**good_row("E2", principal="1000.00", principal_balance="600.00", interest_balance="0"),
         "due_schedule": json.dumps(items[:2])},
        {**good_row("E3", principal="1000.00", principal_balance="600.00"), "due_schedule": "[{\"due_on\": \"2026-03-01\"}, 5]"},
    ]  # fmt: skip
    path = tmp_path / "explicit.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    report = import_accounts(engine=engine, path=path, actor="tester", now=NOW)
    assert (report.rows_inserted, report.rows_rejected) == (1, 2)
    assert report.rejects_path is not None
    reasons = [r[2:] for r in read_rejects(report.rejects_path)][1:]
    assert reasons == [
        ["due_schedule", "principal of the items sums to 70000 minor units, not the principal"],
        ["due_schedule", "item 2 must be an object with due_on, principal, interest"],
    ]
    with UnitOfWork(engine) as uow:
        view = account_view(uow.session, "E1", as_of=AS_OF)
    # 400 + 30 was paid; instalment 2 (due 2026-04-01) is unpaid: 80 days to 2026-06-20.
    assert (view.dpd, view.bucket, view.overdue) == (80, "M3", Decimal("320.00"))
    assert [s["state"] for s in view.schedule] == ["paid", "overdue", "due"]


def test_portfolio_summary_counts_by_bucket(engine: Engine, tmp_path: Path) -> None:
    paid_up = PRINCIPAL_BALANCE - INST[3].principal - INST[4].principal
    rows = [
        good_row("A1"),  # 41 DPD -> M2
        # current -> M0
        good_row(
            "A2", principal_balance=str(paid_up), interest_balance="0", penalty_balance="0", fee_balance="0"
        ),
        good_row("A3", principal_balance=str(PRINCIPAL_BALANCE), interest_balance=str(INTEREST_BALANCE)),
    ]
    import_accounts(engine=engine, path=write_csv(tmp_path / "a.csv", rows), actor="tester", now=NOW)
    summary = portfolio_summary(engine, as_of=AS_OF)
    balance = PRINCIPAL_BALANCE + INTEREST_BALANCE + Decimal("62.34")
    assert [(r.bucket, r.accounts, r.balance, r.overdue) for r in summary] == [
        ("M0", 1, paid_up + Decimal("0.00"), Decimal("0.00")),
        ("M2", 2, balance * 2, (INST[3].payment + INST[4].payment) * 2),
    ]
    assert to_minor(summary[1].balance, "CNY") == 2 * to_minor(balance, "CNY")


def test_batches_written_while_the_next_is_prepared_give_one_consistent_book(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [
        good_row("A1", "D1"),
        good_row("A2", "D2", mobile_phone="13800000002"),
        good_row("A3", "D1"),  # a debtor from an earlier batch
        good_row("A4", "D3", mobile_phone="13800000003"),
        good_row("A1", "D9"),  # an account from an earlier batch
        good_row("A5", "D2"),
        good_row("A6", "D4", principal="abc"),
    ]
    path = write_csv(tmp_path / "accounts.csv", rows)
    report = import_accounts(engine=engine, path=path, actor="tester", now=NOW, batch_rows=2)
    assert report.counts() == {"kind": "accounts", "rows_read": 7, "inserted": 5, "updated": 0,
                               "unchanged": 0, "rejected": 2}  # fmt: skip
    assert read_rejects(tmp_path / "accounts.csv.rejects.csv")[1:] == [
        ["accounts.csv", "5", "account_id", "repeats row 1; only the first row of an account_id is imported"],
        [
            "accounts.csv",
            "7",
            "principal",
            "'abc' is not an amount (ASCII digits 0-9 with an optional decimal point)",
        ],
    ]
    a, d = tables.Account, tables.Debtor
    with engine.connect() as conn:
        owners = conn.execute(
            select(a.external_id, d.external_id).join(d, a.debtor_id == d.id).order_by(a.id)
        ).all()
        counts = table_counts(engine)
    assert [tuple(r) for r in owners] == [
        ("A1", "D1"),
        ("A2", "D2"),
        ("A3", "D1"),
        ("A4", "D3"),
        ("A5", "D2"),
    ]
    assert {k: counts[k] for k in ("debtors", "accounts", "ledger_entries", "persons", "contact_points")} == {
        "debtors": 3, "accounts": 5, "ledger_entries": 5, "persons": 3, "contact_points": 9,
    }  # fmt: skip
    if engine.dialect.name == "sqlite":
        # Indexes set aside during the load of the empty tables are all back.
        with engine.connect() as conn:
            names = {
                r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
            }
        assert {"ix_contact_points_lookup", "ix_contact_points_debtor_id", "ix_debtors_national_id_lookup",
                "ix_persons_debtor_id", "ix_accounts_debtor_id", "ix_ledger_entries_account_effective"} <= names  # fmt: skip
    again = import_accounts(engine=engine, path=path, actor="tester", now=NOW, batch_rows=3)
    assert (again.rows_inserted, again.rows_unchanged, again.rows_rejected) == (0, 5, 2)


def test_a_failure_in_a_later_batch_leaves_nothing_behind(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "accounts.csv", [good_row(f"A{n}", f"D{n}") for n in range(5)])
    before = table_counts(engine)
    indexes: list[str] = []
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            indexes = sorted(
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT name || ':' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index'"
                )
            )
    real = accounts_import._with_ids
    calls: list[int] = []

    def fails_second_time(conn: object, table: str, frame: pl.DataFrame) -> pl.DataFrame:
        # the second batch's ledger entries, after its debtors and accounts were written
        if table == "ledger_entries":
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("disk full")
        return real(conn, table, frame)

    monkeypatch.setattr(accounts_import, "_with_ids", fails_second_time)
    with pytest.raises(RuntimeError, match="disk full"):
        import_accounts(engine=engine, path=path, actor="tester", now=NOW, batch_rows=2)
    assert len(calls) == 2
    assert table_counts(engine) == before
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            after = sorted(
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT name || ':' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index'"
                )
            )
        assert after == indexes
