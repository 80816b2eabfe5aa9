"""The whole-column schedule builder gives, row for row, what build_schedule gives for each loan."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.money import RoundingMode, to_minor
from arrears.domain.schedule_frame import round_ratio, schedule_frame
from arrears.domain.schedules import ScheduleMethod, build_schedule

METHODS = [m.value for m in ScheduleMethod]
MODES = [m.value for m in RoundingMode]

loan = st.tuples(
    st.integers(min_value=1, max_value=10**11),  # principal, minor units
    st.integers(min_value=0, max_value=36_000),  # annual rate in 1/100,000
    st.integers(min_value=1, max_value=72),
    st.sampled_from(METHODS),
    st.sampled_from(MODES),
    st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31)),
    st.one_of(st.none(), st.integers(min_value=1, max_value=60)),
)


def frame_of(loans: list[tuple[int, int, int, str, str, dt.date, int | None]]) -> pl.DataFrame:
    rows = [
        (k, p, rate, 100_000, n, method, None if gap is None else start + dt.timedelta(days=gap), start, mode)
        for k, (p, rate, n, method, mode, start, gap) in enumerate(loans)
    ]
    schema = {"key": pl.Int64, "principal_minor": pl.Int64, "rate_num": pl.Int64, "rate_den": pl.Int64,
              "term": pl.Int32, "method": pl.String, "first_due_on": pl.Date, "start_on": pl.Date,
              "rounding": pl.String}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


@settings(max_examples=60, deadline=None)
@given(st.lists(loan, min_size=1, max_size=12))
def test_frame_equals_scalar_schedule(
    loans: list[tuple[int, int, int, str, str, dt.date, int | None]],
) -> None:
    frame = frame_of(loans)
    out = schedule_frame(frame)
    for k, (p, rate, n, method, mode, start, gap) in enumerate(loans):
        expected = build_schedule(
            principal=Decimal(p) / 100, annual_rate=Decimal(rate) / 100_000, months=n, method=method,
            start_date=start, currency="USD", rounding=mode,
            first_due_on=None if gap is None else start + dt.timedelta(days=gap),
        )  # fmt: skip
        got = out.filter(pl.col("key") == k).sort("number")
        assert got.select("number", "due_on", "principal_minor", "interest_minor").rows() == [
            (i.number, i.due_on, to_minor(i.principal, "USD"), to_minor(i.interest, "USD"))
            for i in expected.installments
        ]
        assert int(got["principal_minor"].sum()) == p


def test_worked_example_t6_equal_installment() -> None:
    # collections-math T6: ¥100,000 at 12 % over 12 months: 8,884.88 x 11 and a final 8,884.85.
    out = schedule_frame(
        frame_of([(10_000_000, 12_000, 12, "equal-installment", "half-up", dt.date(2026, 1, 15), None)])
    )
    payments = (out["principal_minor"] + out["interest_minor"]).to_list()
    assert payments == [888_488] * 11 + [888_485]
    assert int(out["interest_minor"].sum()) == 661_853


def test_round_ratio_modes_on_halves_and_thirds() -> None:
    frame = pl.DataFrame({"n": [5, 15, 25, 1, 2, 7], "d": [10, 10, 10, 3, 3, 7]}).with_columns(
        pl.col("n").cast(pl.Int128), pl.col("d").cast(pl.Int128)
    )
    results = {
        mode: frame.select(round_ratio(pl.col("n"), pl.col("d"), pl.lit(mode)).alias("r"))["r"].to_list()
        for mode in MODES
    }
    # 0.5, 1.5, 2.5, 0.333.., 0.666.., 1
    assert results == {
        "half-up": [1, 2, 3, 0, 1, 1],
        "half-even": [0, 2, 2, 0, 1, 1],
        "up": [1, 2, 3, 1, 1, 1],
        "down": [0, 1, 2, 0, 0, 1],
    }
