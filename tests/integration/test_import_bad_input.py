"""Bad input on SQLite and PostgreSQL: every bad cell is a named reject, never a failed import.

Blank money cells, full-width digits, values wider than their column, dates out of range, repeated
keys across batch boundaries, and random garbage in random cells of a valid file.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from arrears.portfolio.accounts_import import import_accounts
from arrears.portfolio.payments_import import import_payments
from arrears.store import tables

from .test_import_accounts import NOW, good_row, read_rejects, table_counts

EXTRA = ["country", "currency", "jurisdiction", "region", "city", "language", "timezone", "address",
         "monthly_income", "home_phone", "compound_balance", "cost_balance", "first_due_on"]  # fmt: skip


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    header = list(dict.fromkeys([*good_row(), *EXTRA, *(k for r in rows for k in r)]))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(engine: Engine, path: Path, **kw: int) -> tuple[tuple[int, int, int], list[list[str]]]:
    report = import_accounts(engine=engine, path=path, actor="tester", now=NOW, **kw)
    rejects = read_rejects(report.rejects_path)[1:] if report.rejects_path else []
    return (report.rows_read, report.rows_inserted, report.rows_rejected), rejects


def stored_accounts(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.scalars(select(tables.Account.external_id)))


def opening_interest(engine: Engine, account: str) -> int:
    e, a = tables.LedgerEntry, tables.Account
    with engine.connect() as conn:
        return conn.execute(
            select(func.sum(e.interest_minor)).join(a, a.id == e.account_id).where(a.external_id == account)
        ).scalar_one()


def test_blank_optional_balances_are_zero_and_blank_required_ones_are_rejected(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [
        good_row("A1", "D1", interest_balance="   ", penalty_balance="", fee_balance="0"),
        good_row("A2", "D2", interest_balance="\t"),
        good_row("A3", "D3", principal_balance="  "),
    ]
    # A quoted empty string and whitespace are both missing values.
    path = tmp_path / "accounts.csv"
    write_rows(path, rows)
    text = path.read_text(encoding="utf-8").replace(",,0,", ',"",0,', 1)
    path.write_text(text, encoding="utf-8")
    counts, rejects = run(engine, path)
    # With interest_balance zero, the overdue principal alone is within what has fallen due.
    assert counts == (3, 2, 1)
    assert rejects == [["accounts.csv", "3", "principal_balance", "is required"]]
    assert stored_accounts(engine) == ["A1", "A2"]
    assert opening_interest(engine, "A1") == 0


def test_full_width_digits_are_refused_with_a_reason(engine: Engine, tmp_path: Path) -> None:
    rows = [
        good_row("A1", "D1", fee_balance="５０.00"),
        good_row("A2", "D2", term_months="１２"),
        good_row("A3", "D3", annual_rate="０.12"),
        good_row("A4", "D4", national_id="１１０１０５１９４９１２３１００２X"),
        good_row("A5", "D5", mobile_phone="１３８００１３８０００"),
        good_row("A6", "D6"),
    ]
    counts, rejects = run(engine, write_rows(tmp_path / "accounts.csv", rows))
    assert counts == (6, 1, 5)
    assert rejects == [
        ["accounts.csv", "1", "fee_balance",
         "'５０.00' is not an amount (ASCII digits 0-9 with an optional decimal point)"],
        ["accounts.csv", "2", "term_months", "'１２' is not a whole number (ASCII digits 0-9)"],
        ["accounts.csv", "3", "annual_rate", "'０.12' is not a decimal rate such as 0.0435 (ASCII digits 0-9)"],
        ["accounts.csv", "4", "national_id", "must be 18 characters: 17 digits and a check digit or X"],
        ["accounts.csv", "5", "mobile_phone", "'１３８００１３８０００' is not a phone number (ASCII digits 0-9)"],
    ]  # fmt: skip
    assert stored_accounts(engine) == ["A6"]


def test_values_wider_than_their_column_are_rejected(engine: Engine, tmp_path: Path) -> None:
    rows = [
        good_row("A1", "D1", country="CHN"),
        good_row("A2", "D2", country="c1"),
        good_row("A3", "D3", currency="CNYX"),
        good_row("A4", "D4", jurisdiction="CN-" + "X" * 20),
        good_row("A5", "D5", region="R" * 65, city="C" * 65, timezone="T" * 65),
        good_row("A6", "D6", opened_on="+10000-01-10"),
        good_row("A7", "D7", opened_on="0001-01-10"),
        good_row("A8", "D8", principal="9999999999999999999999"),
        good_row("A9", "D9", monthly_income="1" * 40),
        good_row("A10", "D10", country="cn"),
    ]
    counts, rejects = run(engine, write_rows(tmp_path / "accounts.csv", rows))
    assert counts == (10, 1, 9)
    assert rejects == [
        ["accounts.csv", "1", "country", "'CHN' is not a two-letter ISO 3166-1 code"],
        ["accounts.csv", "2", "country", "'c1' is not a two-letter ISO 3166-1 code"],
        ["accounts.csv", "3", "currency", "is CNYX but product cn-consumer-loan is in CNY"],
        ["accounts.csv", "3", "currency", "unknown currency 'CNYX'"],
        ["accounts.csv", "4", "jurisdiction", "is longer than 16 characters"],
        ["accounts.csv", "5", "city", "is longer than 64 characters"],
        ["accounts.csv", "5", "region", "is longer than 64 characters"],
        ["accounts.csv", "5", "timezone", "is longer than 64 characters"],
        ["accounts.csv", "6", "opened_on", "'+10000-01-10' is outside 1900-01-01 to 2199-12-31"],
        ["accounts.csv", "6", "balances_as_of", "is before opened_on"],
        ["accounts.csv", "7", "opened_on", "'0001-01-10' is outside 1900-01-01 to 2199-12-31"],
        ["accounts.csv", "7", "national_id", "has a birth date after the loan was opened"],
        ["accounts.csv", "8", "principal",
         "'9999999999999999999999' is not an amount (ASCII digits 0-9 with an optional decimal point)"],
        ["accounts.csv", "9", "monthly_income",
         f"'{'1' * 40}' is not an amount (ASCII digits 0-9 with an optional decimal point)"],
    ]  # fmt: skip
    assert stored_accounts(engine) == ["A10"]
    with engine.connect() as conn:
        assert conn.scalars(select(tables.Debtor.address_country)).all() == ["CN"]


def test_a_repeated_account_id_is_rejected_whatever_the_batches(engine: Engine, tmp_path: Path) -> None:
    # Row 1 is rejected; rows 2 and 4 repeat its account_id; row 3 is a good account.
    rows = [
        good_row("A1", "D1", principal="oops"),
        good_row("A1", "D1"),
        good_row("A2", "D2"),
        good_row(" A1 ", "D1"),
    ]
    path = write_rows(tmp_path / "accounts.csv", rows)
    expected_rejects = [
        ["accounts.csv", "1", "principal", "'oops' is not an amount (ASCII digits 0-9 with an optional decimal point)"],
        ["accounts.csv", "2", "account_id", "repeats row 1; only the first row of an account_id is imported"],
        ["accounts.csv", "4", "account_id", "repeats row 1; only the first row of an account_id is imported"],
    ]  # fmt: skip
    for batch_rows in (1, 2, 3, 100):
        counts, rejects = run(engine, path, batch_rows=batch_rows)
        assert (counts, rejects) == ((4, 1 if batch_rows == 1 else 0, 3), expected_rejects), batch_rows
        assert stored_accounts(engine) == ["A2"]


def test_a_repeated_payment_id_is_rejected_whatever_the_batches(engine: Engine, tmp_path: Path) -> None:
    assert run(engine, write_rows(tmp_path / "accounts.csv", [good_row("A1")]))[0] == (1, 1, 0)
    path = tmp_path / "payments.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write("payment_id,account_id,amount,received_on\n")
        fh.write(
            "P1,A1,oops,2026-06-21\nP1,A1,10.00,2026-06-21\nP2,A1,１0.00,2026-06-21\nP3,A1,  ,2026-06-21\n"
        )
        fh.write("P4,A1,5.00,2026-06-22\n")
    expected = [
        ["payments.csv", "1", "amount", "'oops' is not an amount (ASCII digits 0-9 with an optional decimal point)"],
        ["payments.csv", "2", "payment_id", "repeats row 1; only the first row of a payment_id is imported"],
        ["payments.csv", "3", "amount", "'１0.00' is not an amount (ASCII digits 0-9 with an optional decimal point)"],
        ["payments.csv", "4", "amount", "is required"],
    ]  # fmt: skip
    for batch_rows in (1, 2, 100):
        report = import_payments(engine=engine, path=path, actor="tester", now=NOW, batch_rows=batch_rows)
        assert report.rejects_path is not None
        assert read_rejects(report.rejects_path)[1:] == expected, batch_rows
        assert report.rows_rejected == 4
    with engine.connect() as conn:
        assert conn.scalars(select(tables.Payment.external_id)).all() == ["P4"]


GARBAGE = st.one_of(
    st.sampled_from(["", " ", '""', "\t", "２", "１２", "0", "-1", "1e5", "NaN", "99999999999999999999",
                     "+10000-01-01", "0001-01-01", "2026-02-30", "CHN", "cn", "X" * 300, "'", '"', ",",
                     "\n", "[", "{}", "[{}]", "null", "1.234", "1,000.00", "spouse", "zz", "A1"]),
    st.text(max_size=12),
)  # fmt: skip
COLUMNS = sorted(
    set(good_row()) | set(EXTRA) | {"due_schedule", "schedule_method", "emergency_contact_relation"}
)
_prefixes = itertools.count()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(COLUMNS), GARBAGE), min_size=1, max_size=6),
       batch_rows=st.sampled_from([2, 4, 100]))  # fmt: skip
def test_garbage_in_random_cells_never_fails_the_import(
    engine: Engine, tmp_path: Path, cells: list[tuple[int, str, str]], batch_rows: int
) -> None:
    prefix = f"G{next(_prefixes)}-"
    rows = [good_row(f"{prefix}A{i}", f"{prefix}D{i}") for i in range(6)]
    touched = set()
    for index, column, value in cells:
        rows[index][column] = value
        touched.add(index)
    path = write_rows(tmp_path / f"{prefix}accounts.csv", rows)
    before = table_counts(engine)
    report = import_accounts(engine=engine, path=path, actor="tester", now=NOW, batch_rows=batch_rows)
    assert report.rows_read == 6
    assert report.rows_inserted + report.rows_rejected + report.rows_unchanged + report.rows_updated == 6
    rejected = (
        {int(r[1]) - 1 for r in read_rejects(report.rejects_path)[1:]} if report.rejects_path else set()
    )
    assert len(rejected) == report.rows_rejected
    with engine.connect() as conn:
        stored = set(
            conn.scalars(
                select(tables.Account.external_id).where(tables.Account.external_id.like(f"{prefix}%"))
            )
        )
    # Every untouched row whose key no earlier row took is imported; nothing else is.
    first_of: dict[str, int] = {}
    for i, row in enumerate(rows):
        first_of.setdefault((row["account_id"] or "").strip(), i)
    for i in range(6):
        if i not in touched and first_of[rows[i]["account_id"]] == i:
            assert i not in rejected
            assert rows[i]["account_id"] in stored
    after = table_counts(engine)
    assert after["accounts"] - before["accounts"] == report.rows_inserted
    assert after["import_runs"] - before["import_runs"] == 1
