"""Daily 罚息 and 复利 (T8), idempotency, gaps, and the vectorised daily run."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.accrual import (
    CARRY_DENOMINATOR,
    AccrualState,
    accrue,
    accrue_frame,
    accrue_through,
    daily_units,
)
from arrears.domain.ledger import Component, EntryKind
from arrears.domain.money import RoundingMode
from arrears.domain.products import AccrualMode, CompoundInterest, Penalty, Product, builtin_products
from arrears.errors import ValidationError

START = date(2026, 3, 1)
RATE = Decimal("0.049")


def loan(**changes: object) -> Product:
    return builtin_products()["cn-consumer-loan"].model_copy(update=changes)


def run(product: Product, days: int, principal: int = 1_000_000, interest: int = 0) -> list[int]:
    entries, _ = accrue_through(
        state=AccrualState.starting(START),
        through=START + timedelta(days=days - 1),
        overdue_principal_minor=principal,
        overdue_interest_minor=interest,
        product=product,
        annual_rate=RATE,
    )
    return [e.amount_minor for e in entries if e.component is Component.PENALTY]


def test_t8_daily_penalty_is_2_041666_and_rounds_to_2_04() -> None:
    penalty, compound = daily_units(
        overdue_principal_minor=1_000_000, overdue_interest_minor=0, product=loan(), annual_rate=RATE
    )
    # 10,000.00 × 4.9 % × 1.5 / 360 = 2.0416… yuan = 204.1666… fen
    assert (
        Fraction(penalty, CARRY_DENOMINATOR)
        == Fraction(1_000_000) * Fraction("0.049") * Fraction("1.5") / 360
    )
    assert compound == 0
    assert run(loan(accrual_mode=AccrualMode.ROUND_DAILY), 1) == [204]


def test_t8_thirty_days_exact_round_once_is_61_25() -> None:
    amounts = run(loan(), 30)
    assert sum(amounts) == 6125
    # Each day posts the change in the rounded cumulative: mostly 204, a 205 every sixth day.
    assert amounts[:6] == [204, 204, 205, 204, 204, 204]


def test_t8_thirty_days_round_daily_is_61_20() -> None:
    assert run(loan(accrual_mode=AccrualMode.ROUND_DAILY), 30) == [204] * 30


def test_compound_interest_on_overdue_interest() -> None:
    entries, state = accrue(
        state=AccrualState.starting(START),
        day=START,
        overdue_principal_minor=0,
        overdue_interest_minor=360_000,
        product=loan(compound_interest=CompoundInterest(enabled=True, factor=Decimal("1.5"))),
        annual_rate=Decimal("0.04"),
    )
    # 3,600.00 × 4 % × 1.5 / 360 = 0.60
    assert [(e.component, e.kind, e.amount_minor, e.key) for e in entries] == [
        (Component.COMPOUND, EntryKind.ACCRUAL, 60, "accrual:2026-03-01:compound")
    ]
    assert state.compound_exact_minor == 60
    assert state.penalty_exact_minor == 0


def test_no_penalty_or_compounding_when_the_product_has_none() -> None:
    product = builtin_products()["us-installment"]
    entries, state = accrue(
        state=AccrualState.starting(START),
        day=START,
        overdue_principal_minor=10**6,
        overdue_interest_minor=10**5,
        product=product,
        annual_rate=Decimal("0.2"),
    )
    assert entries == []
    assert state == AccrualState(last_accrued_on=START)


def test_accruing_a_day_twice_is_idempotent_and_gaps_are_refused() -> None:
    kwargs = {
        "overdue_principal_minor": 1_000_000,
        "overdue_interest_minor": 0,
        "product": loan(),
        "annual_rate": RATE,
    }
    entries, state = accrue(state=AccrualState.starting(START), day=START, **kwargs)  # type: ignore[arg-type]
    assert [e.key for e in entries] == ["accrual:2026-03-01:penalty"]
    again, same = accrue(state=state, day=START, **kwargs)  # type: ignore[arg-type]
    assert again == [] and same is state
    earlier, same = accrue(state=state, day=START - timedelta(days=3), **kwargs)  # type: ignore[arg-type]
    assert earlier == [] and same is state
    with pytest.raises(ValidationError, match="accrue the days between"):
        accrue(state=state, day=START + timedelta(days=2), **kwargs)  # type: ignore[arg-type]


def test_rates_must_be_exact_decimals() -> None:
    with pytest.raises(ValidationError, match="Decimal"):
        daily_units(overdue_principal_minor=1, overdue_interest_minor=0, product=loan(), annual_rate=0.05)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="9 decimal places"):
        daily_units(
            overdue_principal_minor=1, overdue_interest_minor=0, product=loan(), annual_rate=Decimal("1e-10")
        )
    with pytest.raises(ValidationError, match=">= 0"):
        daily_units(overdue_principal_minor=-1, overdue_interest_minor=0, product=loan(), annual_rate=RATE)


@settings(max_examples=60, deadline=None)
@given(
    days=st.integers(1, 120),
    principal=st.integers(0, 10**10),
    rate_e6=st.integers(0, 360_000),
    mode=st.sampled_from(list(RoundingMode)),
)
def test_exact_round_once_total_is_one_rounding_of_the_exact_sum(
    days: int, principal: int, rate_e6: int, mode: RoundingMode
) -> None:
    product = loan(rounding=mode)
    rate = Decimal(rate_e6).scaleb(-6)
    entries, state = accrue_through(
        state=AccrualState.starting(START),
        through=START + timedelta(days=days - 1),
        overdue_principal_minor=principal,
        overdue_interest_minor=0,
        product=product,
        annual_rate=rate,
    )
    exact = Fraction(principal) * Fraction(rate) * Fraction("1.5") / 360 * days
    assert state.penalty_exact_minor == exact
    # An independent oracle on exact fractions: round() on a Fraction is half-even.
    expected = {
        RoundingMode.HALF_UP: math.floor(exact + Fraction(1, 2)),
        RoundingMode.HALF_EVEN: round(exact),
        RoundingMode.UP: math.ceil(exact),
        RoundingMode.DOWN: math.floor(exact),
    }[mode]
    assert sum(e.amount_minor for e in entries) == expected


# -- vectorised -----------------------------------------------------------------------------------------

account_st = st.tuples(
    st.integers(-2, 2),  # last_accrued_on offset from the day - 1 (0: ready, < 0: gap, > 0: done)
    st.integers(0, 10**9),
    st.integers(0, 10**8),
    st.integers(0, 10**7),  # rate in units of 1e-9, up to 1 %
    st.integers(0, 3 * CARRY_DENOMINATOR),
    st.integers(0, 3 * CARRY_DENOMINATOR),
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(account_st, min_size=1, max_size=20),
    mode=st.sampled_from(list(RoundingMode)),
    accrual_mode=st.sampled_from(list(AccrualMode)),
    basis=st.sampled_from(["annual/360", "annual/365"]),
)
def test_accrue_frame_equals_accrue(
    rows: list[tuple[int, int, int, int, int, int]], mode: RoundingMode, accrual_mode: AccrualMode, basis: str
) -> None:
    product = Product.model_validate(
        {
            **loan().model_dump(),
            "rounding": mode,
            "accrual_mode": accrual_mode,
            "day_count": basis,
            "penalty": Penalty(factor=Decimal("1.3")),
            "compound_interest": CompoundInterest(factor=Decimal("1.75")),
        }
    )
    day = date(2026, 5, 10)
    df = pl.DataFrame(
        {
            "account_id": list(range(len(rows))),
            "last_accrued_on": [day - timedelta(days=1) + timedelta(days=r[0]) for r in rows],
            "overdue_principal_minor": [r[1] for r in rows],
            "overdue_interest_minor": [r[2] for r in rows],
            "annual_rate": [Decimal(r[3]).scaleb(-9) for r in rows],
            "penalty_carry_units": [r[4] for r in rows],
            "compound_carry_units": [r[5] for r in rows],
        },
        schema_overrides={
            "annual_rate": pl.Decimal(20, 9),
            "penalty_carry_units": pl.Int128,
            "compound_carry_units": pl.Int128,
        },
    )
    out = accrue_frame(df, day, product=product)
    for i, r in enumerate(rows):
        state = AccrualState(day - timedelta(days=1) + timedelta(days=r[0]), r[4], r[5])
        row = out.row(i, named=True)
        kwargs = {
            "overdue_principal_minor": r[1],
            "overdue_interest_minor": r[2],
            "product": product,
            "annual_rate": Decimal(r[3]).scaleb(-9),
        }
        if r[0] < 0:
            assert row["outcome"] == "gap"
            with pytest.raises(ValidationError):
                accrue(state=state, day=day, **kwargs)  # type: ignore[arg-type]
            new_state, posted = state, {}
        else:
            entries, new_state = accrue(state=state, day=day, **kwargs)  # type: ignore[arg-type]
            posted = {e.component: e.amount_minor for e in entries}
            assert row["outcome"] == ("accrued" if r[0] == 0 else "already-accrued")
        assert row["penalty_minor"] == posted.get(Component.PENALTY, 0)
        assert row["compound_minor"] == posted.get(Component.COMPOUND, 0)
        assert row["last_accrued_on"] == new_state.last_accrued_on
        assert row["penalty_carry_units"] == new_state.penalty_carry_units
        assert row["compound_carry_units"] == new_state.compound_carry_units


def test_accrue_frame_t8_and_bad_input() -> None:
    df = pl.DataFrame(
        {
            "account_id": ["a"],
            "last_accrued_on": [START - timedelta(days=1)],
            "overdue_principal_minor": [1_000_000],
            "overdue_interest_minor": [0],
            "annual_rate": [RATE],
            "penalty_carry_units": [0],
            "compound_carry_units": [0],
        },
        schema_overrides={"annual_rate": pl.Decimal(10, 4)},
    )
    total = 0
    for offset in range(30):
        df = accrue_frame(df, START + timedelta(days=offset), product=loan())
        total += df["penalty_minor"][0]
    assert total == 6125
    assert df["last_accrued_on"][0] == START + timedelta(days=29)
    # Columns built from literals (constant columns) give the same result as materialised ones.
    constant = pl.DataFrame({"account_id": ["a", "b"]}).with_columns(
        last_accrued_on=pl.lit(START - timedelta(days=1)),
        overdue_principal_minor=pl.lit(1_000_000),
        overdue_interest_minor=pl.lit(0),
        annual_rate=pl.lit(RATE).cast(pl.Decimal(10, 4)),
        penalty_carry_units=pl.lit(0),
        compound_carry_units=pl.lit(0),
    )
    first = accrue_frame(constant, START, product=loan())
    assert first.select("outcome", "penalty_minor").rows() == [("accrued", 204), ("accrued", 204)]
    with pytest.raises(ValidationError, match="Decimal column"):
        accrue_frame(df.with_columns(pl.col("annual_rate").cast(pl.Float64)), START, product=loan())
    with pytest.raises(ValidationError, match="missing columns"):
        accrue_frame(df.drop("penalty_carry_units"), START, product=loan())
    with pytest.raises(ValidationError, match=">= 0"):
        accrue_frame(df.with_columns(overdue_principal_minor=pl.lit(-1)), START, product=loan())
