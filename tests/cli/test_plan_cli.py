"""``arrears plan quote``: JSON and table output, and one-line errors for bad input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from arrears.cli.plan import app
from arrears.domain.schedules import add_months

runner = CliRunner()


def _quote(*args: str) -> Any:
    return runner.invoke(app, ["quote", *args])


def _json(*args: str) -> dict[str, Any]:
    result = _quote(*args, "--json")
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _row(
    number: int, due_on: str, payment: str, interest: str, principal: str, balance: str
) -> dict[str, Any]:
    return {
        "number": number,
        "due_on": due_on,
        "payment": payment,
        "interest": interest,
        "principal": principal,
        "balance": balance,
    }


# T2: 10,000.00 at 6 % APR over 12 months, drawn 15 Jan 2026. Balances follow from the listed
# interest: each principal is 860.66 - interest, and the balance falls by that principal.
T2_ROWS = [
    _row(1, "2026-02-15", "860.66", "50.00", "810.66", "9189.34"),
    _row(2, "2026-03-15", "860.66", "45.95", "814.71", "8374.63"),
    _row(3, "2026-04-15", "860.66", "41.87", "818.79", "7555.84"),
    _row(4, "2026-05-15", "860.66", "37.78", "822.88", "6732.96"),
    _row(5, "2026-06-15", "860.66", "33.66", "827.00", "5905.96"),
    _row(6, "2026-07-15", "860.66", "29.53", "831.13", "5074.83"),
    _row(7, "2026-08-15", "860.66", "25.37", "835.29", "4239.54"),
    _row(8, "2026-09-15", "860.66", "21.20", "839.46", "3400.08"),
    _row(9, "2026-10-15", "860.66", "17.00", "843.66", "2556.42"),
    _row(10, "2026-11-15", "860.66", "12.78", "847.88", "1708.54"),
    _row(11, "2026-12-15", "860.66", "8.54", "852.12", "856.42"),
    _row(12, "2027-01-15", "860.70", "4.28", "856.42", "0.00"),
]


def test_json_t2() -> None:
    data = _json(
        "--principal", "10000", "--annual-rate", "0.06", "--months", "12",
        "--method", "equal-installment", "--start-date", "2026-01-15", "--currency", "USD",
    )  # fmt: skip
    assert data == {"installments": T2_ROWS, "total_interest": "327.96", "total_payment": "10327.96"}


def test_json_t2_ceiling_variant() -> None:
    data = _json(
        "--principal", "10000", "--annual-rate", "0.06", "--months", "12",
        "--method", "equal-installment", "--rounding", "up", "--start-date", "2026-01-15",
    )  # fmt: skip
    assert [row["payment"] for row in data["installments"]] == ["860.67"] * 11 + ["860.59"]
    assert data["total_interest"] == "327.96"
    assert data["total_payment"] == "10327.96"


# T6 等额本金: principal 8,333.33 a month (the last 8,333.37), interest 1 % of the opening balance.
T6_EQUAL_PRINCIPAL = [
    _row(1, "2026-02-28", "9333.33", "1000.00", "8333.33", "91666.67"),
    _row(2, "2026-03-31", "9250.00", "916.67", "8333.33", "83333.34"),
    _row(3, "2026-04-30", "9166.66", "833.33", "8333.33", "75000.01"),
    _row(4, "2026-05-31", "9083.33", "750.00", "8333.33", "66666.68"),
    _row(5, "2026-06-30", "9000.00", "666.67", "8333.33", "58333.35"),
    _row(6, "2026-07-31", "8916.66", "583.33", "8333.33", "50000.02"),
    _row(7, "2026-08-31", "8833.33", "500.00", "8333.33", "41666.69"),
    _row(8, "2026-09-30", "8750.00", "416.67", "8333.33", "33333.36"),
    _row(9, "2026-10-31", "8666.66", "333.33", "8333.33", "25000.03"),
    _row(10, "2026-11-30", "8583.33", "250.00", "8333.33", "16666.70"),
    _row(11, "2026-12-31", "8500.00", "166.67", "8333.33", "8333.37"),
    _row(12, "2027-01-31", "8416.70", "83.33", "8333.37", "0.00"),
]


def test_json_t6_equal_principal_with_month_end_due_dates() -> None:
    data = _json(
        "--principal", "100000", "--annual-rate", "0.12", "--months", "12",
        "--method", "equal-principal", "--start-date", "2026-01-31",
    )  # fmt: skip
    assert data == {
        "installments": T6_EQUAL_PRINCIPAL,
        "total_interest": "6500.00",
        "total_payment": "106500.00",
    }


def test_json_t6_equal_installment() -> None:
    data = _json(
        "--principal", "100000", "--annual-rate", "0.12", "--months", "12",
        "--method", "equal-installment", "--start-date", "2026-01-31",
    )  # fmt: skip
    rows = data["installments"]
    assert [row["payment"] for row in rows] == ["8884.88"] * 11 + ["8884.85"]
    assert [row["due_on"] for row in rows[:3]] == ["2026-02-28", "2026-03-31", "2026-04-30"]
    assert rows[0] == _row(1, "2026-02-28", "8884.88", "1000.00", "7884.88", "92115.12")
    assert rows[-1]["balance"] == "0.00"
    assert data["total_interest"] == "6618.53"
    assert data["total_payment"] == "106618.53"


def test_json_bullet() -> None:
    data = _json(
        "--principal", "50000", "--annual-rate", "0.049", "--months", "7",
        "--method", "bullet", "--start-date", "2026-01-15",
    )  # fmt: skip
    assert data == {
        "installments": [_row(1, "2026-08-15", "51429.17", "1429.17", "50000.00", "0.00")],
        "total_interest": "1429.17",
        "total_payment": "51429.17",
    }


def test_default_start_date_is_today_in_utc() -> None:
    before = datetime.now(UTC).date()
    data = _json("--principal", "1200", "--annual-rate", "0", "--months", "1", "--method", "bullet")
    after = datetime.now(UTC).date()
    due_on = date.fromisoformat(data["installments"][0]["due_on"])
    assert due_on in {add_months(before, 1), add_months(after, 1)}


def test_table_shows_rows_and_totals() -> None:
    result = _quote(
        "--principal", "200000", "--annual-rate", "0.075", "--months", "180",
        "--method", "equal-installment", "--start-date", "2026-01-15",
    )  # fmt: skip
    assert result.exit_code == 0
    out = result.stdout
    assert "Total interest: 133,725.08 CNY" in out
    assert "Total payment: 333,725.08 CNY" in out
    assert "Total principal: 200,000.00 CNY" in out
    assert "1,854.02" in out
    assert "1,855.50" in out
    assert "2041-01-15" in out
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--principal", "-5"], "--principal"),
        (["--principal", "ten"], "--principal"),
        (["--principal", "10.005"], "--principal"),
        (["--annual-rate", "12"], "--annual-rate"),
        (["--annual-rate", "4.9%"], "--annual-rate"),
        (["--months", "0"], "--months"),
        (["--months", "twelve"], "--months"),
        (["--method", "balloon"], "--method"),
        (["--rounding", "nearest"], "--rounding"),
        (["--start-date", "15/01/2026"], "--start-date"),
        (["--currency", "XYZ"], "--currency"),
    ],
)
def test_bad_input_is_one_error_naming_the_option(args: list[str], option: str) -> None:
    base = {
        "--principal": "10000",
        "--annual-rate": "0.06",
        "--months": "12",
        "--method": "equal-installment",
        "--start-date": "2026-01-15",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [part for pair in base.items() for part in pair]
    result = _quote(*flat)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert option in result.stderr
    assert "error" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_option_is_reported_in_one_line() -> None:
    result = _quote("--annual-rate", "0.06", "--months", "12", "--method", "bullet")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "--principal is required" in result.stderr


def test_short_error_fits_on_one_line() -> None:
    result = _quote("--principal", "-5", "--annual-rate", "0.06", "--months", "12", "--method", "bullet")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "--principal must be greater than zero, got -5" in lines[0]
