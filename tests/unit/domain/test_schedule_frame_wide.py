"""Loans whose interest products exceed 64 bits take the 128-bit path and still equal build_schedule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.money import RoundingMode, to_minor
from arrears.domain.schedule_frame import schedule_frame
from arrears.domain.schedules import ScheduleMethod, build_schedule

# A principal near 10**15 minor units times a rate with twelve decimals overflows 64-bit integers.
big = st.tuples(
    st.integers(min_value=10**14, max_value=10**15),
    st.integers(min_value=1, max_value=3 * 10**11),  # annual rate in 1/10**12
    st.integers(min_value=1, max_value=24),
    st.sampled_from([m.value for m in ScheduleMethod]),
    st.sampled_from([m.value for m in RoundingMode]),
    st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31)),
)
DEN = 10**12


@settings(max_examples=25, deadline=None)
@given(st.lists(big, min_size=1, max_size=4), st.integers(min_value=1, max_value=10**6))
def test_wide_batch_equals_scalar_schedule(
    loans: list[tuple[int, int, int, str, str, dt.date]], small: int
) -> None:
    # A small loan in the same batch goes through the same (wide) arithmetic.
    rows = [
        (k, p, rate, DEN, n, method, None, start, mode)
        for k, (p, rate, n, method, mode, start) in enumerate(loans)
    ]
    rows.append(
        (len(loans), small, 5 * 10**10, DEN, 12, "equal-installment", None, dt.date(2026, 1, 31), "half-even")
    )
    schema = {"key": pl.Int64, "principal_minor": pl.Int64, "rate_num": pl.Int64, "rate_den": pl.Int64,
              "term": pl.Int32, "method": pl.String, "first_due_on": pl.Date, "start_on": pl.Date,
              "rounding": pl.String}  # fmt: skip
    out = schedule_frame(pl.DataFrame(rows, schema=schema, orient="row"))
    for key, p, rate, den, n, method, _first, start, mode in rows:
        expected = build_schedule(
            principal=Decimal(p) / 100, annual_rate=Decimal(rate) / den, months=n, method=method,
            start_date=start, currency="USD", rounding=mode,
        )  # fmt: skip
        got = out.filter(pl.col("key") == key).sort("number")
        assert got.select("number", "due_on", "principal_minor", "interest_minor").rows() == [
            (i.number, i.due_on, to_minor(i.principal, "USD"), to_minor(i.interest, "USD"))
            for i in expected.installments
        ]


def test_level_payment_on_a_rounding_boundary_is_recomputed_exactly() -> None:
    # 0.03 over two months at 0 %: the level payment is exactly 1.5 minor units, where a float
    # estimate cannot be trusted to round; it is recomputed in Decimal for every mode.
    modes = [m.value for m in RoundingMode]
    rows = [
        (k, 3, 0, 1, 2, "equal-installment", None, dt.date(2026, 1, 31), mode) for k, mode in enumerate(modes)
    ]
    schema = {"key": pl.Int64, "principal_minor": pl.Int64, "rate_num": pl.Int64, "rate_den": pl.Int64,
              "term": pl.Int32, "method": pl.String, "first_due_on": pl.Date, "start_on": pl.Date,
              "rounding": pl.String}  # fmt: skip
    out = schedule_frame(pl.DataFrame(rows, schema=schema, orient="row"))
    got = {mode: out.filter(pl.col("key") == k)["principal_minor"].to_list() for k, mode in enumerate(modes)}
    assert got == {"half-up": [2, 1], "half-even": [2, 1], "up": [2, 1], "down": [1, 2]}
    for mode in modes:
        expected = build_schedule(
            principal=Decimal("0.03"), annual_rate=Decimal(0), months=2, method="equal-installment",
            start_date=dt.date(2026, 1, 31), currency="USD", rounding=mode,
        )  # fmt: skip
        assert got[mode] == [to_minor(i.principal, "USD") for i in expected.installments]
