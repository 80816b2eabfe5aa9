"""Repayment schedules: the worked examples of collections-math §2.4 and the schedule invariants."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.money import RoundingMode
from arrears.domain.schedules import (
    Installment,
    ScheduleMethod,
    add_months,
    build_schedule,
    interest_rounding,
    level_payment,
    payment_plan,
)
from arrears.errors import ValidationError

D = Decimal
START = date(2026, 1, 15)


def _strs(values: Iterable[Decimal]) -> list[str]:
    return [str(v) for v in values]


# -- worked examples ----------------------------------------------------------------------------


def test_t1_numpy_financial_example() -> None:
    schedule = build_schedule(
        principal=D("200000"),
        annual_rate=D("0.075"),
        months=180,
        method=ScheduleMethod.EQUAL_INSTALLMENT,
        start_date=START,
    )
    rows = schedule.installments
    assert len(rows) == 180
    assert {r.payment for r in rows[:-1]} == {D("1854.02")}
    assert rows[0].interest == D("1250.00")
    assert rows[0].principal == D("604.02")
    assert rows[-1].payment == D("1855.50")
    assert rows[-1].interest == D("11.52")
    assert rows[-1].balance == D("0.00")
    assert schedule.total_interest == D("133725.08")
    assert schedule.total_principal == D("200000.00")
    assert schedule.total_payment == D("333725.08")


T2_INTEREST = [
    "50.00", "45.95", "41.87", "37.78", "33.66", "29.53", "25.37", "21.20", "17.00", "12.78", "8.54", "4.28",
]  # fmt: skip


def test_t2_us_style_half_up() -> None:
    schedule = build_schedule(
        principal=D("10000.00"),
        annual_rate=D("0.06"),
        months=12,
        method="equal-installment",
        start_date=START,
        currency="USD",
    )
    rows = schedule.installments
    assert _strs(r.payment for r in rows) == ["860.66"] * 11 + ["860.70"]
    assert _strs(r.interest for r in rows) == T2_INTEREST
    assert schedule.total_interest == D("327.96")
    assert schedule.total_payment == D("10327.96")
    # The first row matches npf.ppmt(0.005, 1, 12, 10000) = 810.6642970708236 to the cent.
    assert rows[0].principal == D("810.66")


def test_t2_ceiling_variant_lending_club() -> None:
    schedule = build_schedule(
        principal=D("10000.00"),
        annual_rate=D("0.06"),
        months=12,
        method="equal-installment",
        start_date=START,
        currency="USD",
        rounding=RoundingMode.UP,
    )
    rows = schedule.installments
    assert _strs(r.payment for r in rows) == ["860.67"] * 11 + ["860.59"]
    # Interest is still rounded half-up under the ceiling convention.
    assert _strs(r.interest for r in rows) == T2_INTEREST
    assert schedule.total_interest == D("327.96")


def test_t6_equal_installment() -> None:
    schedule = build_schedule(
        principal=D("100000"), annual_rate=D("0.12"), months=12, method="equal-installment", start_date=START
    )
    rows = schedule.installments
    assert _strs(r.payment for r in rows) == ["8884.88"] * 11 + ["8884.85"]
    assert schedule.total_interest == D("6618.53")
    assert schedule.total_principal == D("100000.00")


def test_t6_equal_principal() -> None:
    schedule = build_schedule(
        principal=D("100000"), annual_rate=D("0.12"), months=12, method="equal-principal", start_date=START
    )
    rows = schedule.installments
    assert _strs(r.payment for r in rows) == [
        "9333.33", "9250.00", "9166.66", "9083.33", "9000.00", "8916.66",
        "8833.33", "8750.00", "8666.66", "8583.33", "8500.00", "8416.70",
    ]  # fmt: skip
    assert _strs(r.principal for r in rows) == ["8333.33"] * 11 + ["8333.37"]
    assert schedule.total_interest == D("6500.00")


def test_interest_only() -> None:
    schedule = build_schedule(
        principal=D("100000"), annual_rate=D("0.12"), months=3, method="interest-only", start_date=START
    )
    assert [(r.payment, r.interest, r.principal, r.balance) for r in schedule.installments] == [
        (D("1000.00"), D("1000.00"), D("0.00"), D("100000.00")),
        (D("1000.00"), D("1000.00"), D("0.00"), D("100000.00")),
        (D("101000.00"), D("1000.00"), D("100000.00"), D("0.00")),
    ]


def test_bullet_is_one_payment_of_principal_and_simple_interest_at_maturity() -> None:
    schedule = build_schedule(
        principal=D("50000"), annual_rate=D("0.049"), months=7, method="bullet", start_date=START
    )
    # 50,000 x 0.049 x 7 / 12 = 1,429.1666... -> 1,429.17 (half-up), no compounding.
    assert schedule.installments == (
        Installment(
            number=1,
            due_on=date(2026, 8, 15),
            payment=D("51429.17"),
            interest=D("1429.17"),
            principal=D("50000.00"),
            balance=D("0.00"),
        ),
    )
    down = build_schedule(
        principal=D("50000"),
        annual_rate=D("0.049"),
        months=7,
        method="bullet",
        start_date=START,
        rounding=RoundingMode.DOWN,
    )
    assert down.installments[0].interest == D("1429.16")


def test_zero_rate_equal_installment_divides_evenly() -> None:
    schedule = build_schedule(
        principal=D("100.00"), annual_rate=D("0"), months=3, method="equal-installment", start_date=START
    )
    assert _strs(r.payment for r in schedule.installments) == ["33.33", "33.33", "33.34"]
    assert schedule.total_interest == D("0.00")


def test_zero_decimal_currency() -> None:
    schedule = build_schedule(
        principal=D("1000000"),
        annual_rate=D("0.03"),
        months=12,
        method="equal-installment",
        start_date=START,
        currency="JPY",
    )
    rows = schedule.installments
    assert rows[0].interest == D("2500")
    assert rows[0].payment == D("84694")  # 84,693.9... rounded half-up
    assert schedule.total_principal == D("1000000")
    assert rows[-1].payment.as_tuple().exponent == 0


def test_to_minor_rows() -> None:
    schedule = build_schedule(
        principal=D("10000.00"),
        annual_rate=D("0.06"),
        months=12,
        method="equal-installment",
        start_date=START,
    )
    rows = schedule.to_minor_rows()
    assert rows[0] == (1, date(2026, 2, 15), 86066, 5000, 81066, 918934)
    assert rows[-1] == (12, date(2027, 1, 15), 86070, 428, 85642, 0)
    assert all(type(v) is int for row in rows for v in (row[0], *row[2:]))


# -- due dates ----------------------------------------------------------------------------------


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 1, 31), 2) == date(2026, 3, 31)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)
    assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)


def test_due_dates_follow_the_start_day_with_month_end_clamping() -> None:
    schedule = build_schedule(
        principal=D("1200"),
        annual_rate=D("0.1"),
        months=4,
        method="equal-principal",
        start_date=date(2027, 12, 31),
    )
    assert [r.due_on for r in schedule.installments] == [
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
    ]


def test_due_dates_anchor_on_first_due_on() -> None:
    schedule = build_schedule(
        principal=D("1200"),
        annual_rate=D("0.1"),
        months=3,
        method="equal-principal",
        start_date=date(2026, 1, 10),
        first_due_on=date(2026, 1, 31),
    )
    assert [r.due_on for r in schedule.installments] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
    ]


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"principal": D("-1")}, "principal"),
        ({"principal": D("0")}, "principal"),
        ({"principal": D("1.001")}, "principal"),
        ({"principal": D("1e15")}, "principal"),
        ({"principal": 1.5}, "principal"),
        ({"annual_rate": D("-0.01")}, "annual_rate"),
        ({"annual_rate": D("10.01")}, "annual_rate"),
        ({"months": 0}, "months"),
        ({"months": 601}, "months"),
        ({"method": "balloon"}, "method"),
        ({"rounding": "nearest"}, "rounding"),
        ({"currency": "XYZ"}, "currency"),
        ({"first_due_on": date(2026, 1, 15)}, "first_due_on"),
    ],
)
def test_bad_input_names_the_field(override: dict[str, object], field: str) -> None:
    kwargs: dict[str, object] = {
        "principal": D("1000"),
        "annual_rate": D("0.1"),
        "months": 12,
        "method": "equal-installment",
        "start_date": START,
    }
    kwargs.update(override)
    with pytest.raises(ValidationError) as info:
        build_schedule(**kwargs)  # type: ignore[arg-type]
    assert info.value.fields["field"] == field


def test_limits_are_inclusive() -> None:
    longest = build_schedule(
        principal=D("1000"), annual_rate=D("10"), months=600, method="equal-installment", start_date=START
    )
    assert len(longest.installments) == 600
    assert longest.total_principal == D("1000.00")


# -- documented guards for degenerate loans -------------------------------------------------------


def test_rounding_up_a_tiny_instalment_repays_early_then_zero_rows() -> None:
    # ceil(1.00 / 360) = 0.01, so the loan is repaid by the 100th month.
    schedule = build_schedule(
        principal=D("1.00"),
        annual_rate=D("0"),
        months=360,
        method="equal-installment",
        start_date=START,
        rounding=RoundingMode.UP,
    )
    rows = schedule.installments
    assert [r.payment for r in rows[:100]] == [D("0.01")] * 100
    assert rows[99].balance == D("0.00")
    assert {r.payment for r in rows[100:]} == {D("0.00")}
    assert schedule.total_principal == D("1.00")


def test_half_up_rounding_drift_can_repay_a_long_high_rate_loan_early() -> None:
    # At 2 % a month over 360 months half a cent of rounding grows by 1.02^k; the level payment
    # 20.02 (exact 20.0160...) clears the balance before maturity.
    schedule = build_schedule(
        principal=D("1000.00"),
        annual_rate=D("0.24"),
        months=360,
        method="equal-installment",
        start_date=START,
    )
    rows = schedule.installments
    assert rows[0].payment == D("20.02")
    paid_off = next(r.number for r in rows if r.balance == 0)
    assert paid_off == 350
    assert rows[paid_off - 1].payment < D("20.02")
    assert {r.payment for r in rows[paid_off:]} == {D("0.00")}
    assert schedule.total_principal == D("1000.00")


# -- payment plans ------------------------------------------------------------------------------


def test_payment_plan_splits_evenly_last_takes_remainder() -> None:
    plan = payment_plan(D("100.00"), 3, date(2026, 1, 31), "CNY")
    assert [(r.number, r.due_on, r.payment, r.balance) for r in plan.installments] == [
        (1, date(2026, 1, 31), D("33.33"), D("66.67")),
        (2, date(2026, 2, 28), D("33.33"), D("33.34")),
        (3, date(2026, 3, 31), D("33.34"), D("0.00")),
    ]
    assert plan.total_interest == D("0.00")
    assert plan.total_payment == D("100.00")


def test_payment_plan_every_three_months() -> None:
    plan = payment_plan(D("1000"), 4, date(2026, 11, 30), "USD", every_months=3)
    assert [r.due_on for r in plan.installments] == [
        date(2026, 11, 30),
        date(2027, 2, 28),
        date(2027, 5, 30),
        date(2027, 8, 30),
    ]
    assert {r.payment for r in plan.installments} == {D("250.00")}


@pytest.mark.parametrize(
    ("total", "parts", "every", "field"),
    [
        (D("0"), 3, 1, "total"),
        (D("10.001"), 3, 1, "total"),
        (D("100"), 0, 1, "parts"),
        (D("100"), 3, 13, "every_months"),
    ],
)
def test_payment_plan_bad_input(total: Decimal, parts: int, every: int, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        payment_plan(total, parts, date(2026, 1, 1), "CNY", every_months=every)
    assert info.value.fields["field"] == field


# -- properties ---------------------------------------------------------------------------------


def _round_fraction(value: Fraction, unit: Fraction, mode: RoundingMode) -> Fraction:
    """Round a non-negative exact rational to a multiple of ``unit``."""
    steps = value / unit
    floor = math.floor(steps)
    rest = steps - floor
    if mode is RoundingMode.DOWN:
        up = False
    elif mode is RoundingMode.UP:
        up = rest > 0
    elif mode is RoundingMode.HALF_UP:
        up = rest >= Fraction(1, 2)
    else:
        up = rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1)
    return (floor + int(up)) * unit


def _exact_level_payment(principal: Fraction, annual: Fraction, months: int) -> Fraction:
    if annual == 0:
        return principal / months
    r = annual / 12
    growth = (1 + r) ** months
    return principal * r * growth / (growth - 1)


UNIT = Fraction(1, 100)


@settings(max_examples=120, deadline=None)
@given(
    principal_minor=st.integers(min_value=1, max_value=1_000_000_000),
    rate=st.decimals(min_value=0, max_value=D("0.36"), places=4),
    months=st.integers(min_value=1, max_value=360),
    method=st.sampled_from(list(ScheduleMethod)),
    mode=st.sampled_from(list(RoundingMode)),
)
def test_schedule_invariants(
    principal_minor: int, rate: Decimal, months: int, method: ScheduleMethod, mode: RoundingMode
) -> None:
    principal = D(principal_minor).scaleb(-2)
    schedule = build_schedule(
        principal=principal,
        annual_rate=rate,
        months=months,
        method=method,
        start_date=START,
        rounding=mode,
    )
    rows = schedule.installments
    exact_p, exact_rate = Fraction(principal), Fraction(rate)

    assert sum(r.principal for r in rows) == principal
    assert schedule.total_principal == principal
    assert schedule.total_interest == sum(r.interest for r in rows)
    assert schedule.total_payment == principal + schedule.total_interest
    assert rows[-1].balance == 0
    assert all(r.payment == r.interest + r.principal for r in rows)
    assert all(r.balance >= 0 and r.principal >= 0 and r.interest >= 0 for r in rows)
    assert all(r.payment.as_tuple().exponent == -2 for r in rows)

    if method is ScheduleMethod.BULLET:
        # Documented exception: one instalment, simple interest for the whole term.
        assert len(rows) == 1
        expected = _round_fraction(exact_p * exact_rate * months / 12, UNIT, interest_rounding(mode))
        assert Fraction(rows[0].interest) == expected
        assert rows[0].due_on == add_months(START, months)
        return

    assert len(rows) == months
    assert [r.number for r in rows] == list(range(1, months + 1))
    balance = principal
    for row in rows:
        expected = _round_fraction(Fraction(balance) * exact_rate / 12, UNIT, interest_rounding(mode))
        assert Fraction(row.interest) == expected
        assert row.balance == balance - row.principal
        balance = row.balance

    if method is ScheduleMethod.EQUAL_INSTALLMENT:
        exact_a = _exact_level_payment(exact_p, exact_rate, months)
        level = _round_fraction(exact_a, UNIT, mode)
        assert abs(level - exact_a) < UNIT
        assert Fraction(level_payment(principal, rate, months)) - exact_a < Fraction(1, 10**30)
        growth = (1 + exact_rate / 12) ** months
        drift_per_period = 2 * UNIT
        if exact_rate == 0:
            amplified = drift_per_period * (months - 1)
            safe = amplified < exact_a
        else:
            r = exact_rate / 12
            amplified = drift_per_period * ((1 + r) ** (months - 1) - 1) / r
            safe = drift_per_period * growth <= exact_a and amplified < exact_a / (1 + r)
        for row in rows[:-1]:
            if Fraction(row.payment) == level:
                continue
            # Documented guard: the row that repays the loan early and the zero rows after it.
            assert not safe
            assert row.balance == 0
    elif method is ScheduleMethod.EQUAL_PRINCIPAL:
        part = _round_fraction(exact_p / months, UNIT, mode)
        for row in rows[:-1]:
            assert Fraction(row.principal) == part or row.balance == 0
        if part * (months - 1) <= exact_p:
            assert all(Fraction(r.principal) == part for r in rows[:-1])
    else:
        assert all(r.principal == 0 and r.payment == r.interest for r in rows[:-1])


@settings(max_examples=80, deadline=None)
@given(
    total_minor=st.integers(min_value=1, max_value=10**12),
    parts=st.integers(min_value=1, max_value=120),
    every=st.integers(min_value=1, max_value=12),
)
def test_payment_plan_invariants(total_minor: int, parts: int, every: int) -> None:
    total = D(total_minor).scaleb(-2)
    plan = payment_plan(total, parts, date(2026, 1, 31), "CNY", every_months=every)
    rows = plan.installments
    assert len(rows) == parts
    assert sum(r.payment for r in rows) == total
    assert len({r.payment for r in rows[:-1]}) <= 1
    assert all(0 <= r.payment - rows[0].payment < D(parts).scaleb(-2) for r in rows)
    assert rows[-1].balance == 0
    assert all(r.interest == 0 for r in rows)
    assert [r.due_on for r in rows] == [add_months(date(2026, 1, 31), k * every) for k in range(parts)]
