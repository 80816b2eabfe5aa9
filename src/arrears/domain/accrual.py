"""Daily accruals: 罚息 (penalty interest) on overdue principal, 复利 (compound interest) on overdue interest.

One day's exact amount, in minor units, is::

    penalty  = overdue_principal × annual_rate × penalty.factor / basis
    compound = overdue_interest  × annual_rate × compound_interest.factor / basis

with ``basis`` 360 or 365 from the product's day count. Two rounding modes:

* ``round-daily``: each day's amount is rounded and posted on its own.
* ``exact-round-once``: the exact cumulative amount is carried; each day posts
  ``round(cum_exact_today) − round(cum_exact_yesterday)``, so the total over any run of days equals
  the single rounding of its exact sum.

T8: ¥10,000 at 4.9 % × 1.5 / 360 is ¥2.041666… a day. Round-daily posts ¥2.04 a day (¥61.20 in
30 days); exact-round-once posts ¥61.25 in 30 days.

Exact amounts are held as integers of ``1 / CARRY_DENOMINATOR`` minor units, so that the scalar and
the vectorised paths compute the very same numbers: rates may have up to 9 decimal places and
factors up to 4, and ``CARRY_DENOMINATOR`` is divisible by both day-count bases.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Final

import polars as pl

from arrears.domain.ledger import Component, Entry, EntryKind
from arrears.domain.money import RoundingMode
from arrears.domain.products import FACTOR_DECIMALS, AccrualMode, Product
from arrears.errors import ValidationError

__all__ = [
    "CARRY_DENOMINATOR",
    "RATE_DECIMALS",
    "AccrualState",
    "accrue",
    "accrue_frame",
    "accrue_through",
    "daily_units",
]

RATE_DECIMALS: Final = 9
_YEAR_LCM: Final = 26280  # lcm(360, 365): both day-count bases divide it
CARRY_DENOMINATOR: Final = 10**RATE_DECIMALS * 10**FACTOR_DECIMALS * _YEAR_LCM


@dataclass(frozen=True, slots=True)
class AccrualState:
    """Where an account's accrual stands: the last day accrued and the exact cumulative amounts.

    The carries are in units of ``1 / CARRY_DENOMINATOR`` minor units and count from the start of the
    run (what :meth:`starting` creates); the amount posted so far is their rounding.
    """

    last_accrued_on: date
    penalty_carry_units: int = 0
    compound_carry_units: int = 0

    @classmethod
    def starting(cls, first_day: date) -> AccrualState:
        """A fresh run whose first accrual day is ``first_day``."""
        return cls(last_accrued_on=first_day - timedelta(days=1))

    @property
    def penalty_exact_minor(self) -> Fraction:
        """The exact penalty accrued in this run, in minor units."""
        return Fraction(self.penalty_carry_units, CARRY_DENOMINATOR)

    @property
    def compound_exact_minor(self) -> Fraction:
        """The exact compound interest accrued in this run, in minor units."""
        return Fraction(self.compound_carry_units, CARRY_DENOMINATOR)


def _rate_e9(annual_rate: Decimal) -> int:
    if not isinstance(annual_rate, Decimal):
        raise ValidationError("annual_rate must be a Decimal (never a float)", field="annual_rate")
    scaled = annual_rate.scaleb(RATE_DECIMALS)
    if annual_rate < 0 or scaled != scaled.to_integral_value():
        raise ValidationError(
            f"annual_rate must be >= 0 with at most {RATE_DECIMALS} decimal places, got {annual_rate}",
            field="annual_rate",
            value=str(annual_rate),
        )
    return int(scaled)


def _factor_e4(factor: Decimal) -> int:
    return int(factor.scaleb(FACTOR_DECIMALS))


def _multipliers(product: Product) -> tuple[int, int]:
    """Per (minor unit × rate_e9): the daily units for penalty and for compound interest."""
    per_basis = _YEAR_LCM // product.basis_days
    penalty = _factor_e4(product.penalty.factor) * per_basis if product.penalty else 0
    compound = product.compound_interest
    compounding = _factor_e4(compound.factor) * per_basis if compound and compound.enabled else 0
    return penalty, compounding


def daily_units(
    *, overdue_principal_minor: int, overdue_interest_minor: int, product: Product, annual_rate: Decimal
) -> tuple[int, int]:
    """One day's exact penalty and compound amounts in units of ``1 / CARRY_DENOMINATOR`` minor units."""
    for name, value in (
        ("overdue_principal_minor", overdue_principal_minor),
        ("overdue_interest_minor", overdue_interest_minor),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(f"{name} must be an integer >= 0", field=name, value=value)
    rate = _rate_e9(annual_rate)
    penalty, compound = _multipliers(product)
    return overdue_principal_minor * rate * penalty, overdue_interest_minor * rate * compound


def _round_units(units: int, mode: RoundingMode) -> int:
    """Round ``units / CARRY_DENOMINATOR`` (>= 0) to a whole minor unit."""
    q, r = divmod(units, CARRY_DENOMINATOR)
    if mode == RoundingMode.DOWN:
        return q
    if mode == RoundingMode.UP:
        return q + (r > 0)
    if mode == RoundingMode.HALF_UP:
        return q + (2 * r >= CARRY_DENOMINATOR)
    return q + (2 * r > CARRY_DENOMINATOR or (2 * r == CARRY_DENOMINATOR and q % 2 == 1))


def _posted(carry: int, daily: int, product: Product) -> int:
    if product.accrual_mode == AccrualMode.ROUND_DAILY:
        return _round_units(daily, product.rounding)
    return _round_units(carry + daily, product.rounding) - _round_units(carry, product.rounding)


def accrue(
    *,
    state: AccrualState,
    day: date,
    overdue_principal_minor: int,
    overdue_interest_minor: int,
    product: Product,
    annual_rate: Decimal,
    key_prefix: str = "accrual",
) -> tuple[list[Entry], AccrualState]:
    """Accrue one day of 罚息 and 复利; returns the entries to post and the new state.

    A day on or before ``state.last_accrued_on`` was already accrued: no entries, same state. Days go
    in order; a later day with a gap is refused (use :func:`accrue_through`). Entry keys are
    ``"<key_prefix>:<day>:<component>"``; a day that rounds to nothing posts nothing.
    """
    if day <= state.last_accrued_on:
        return [], state
    if day != state.last_accrued_on + timedelta(days=1):
        raise ValidationError(
            f"cannot accrue {day}: the last day accrued is {state.last_accrued_on}; "
            "accrue the days between first (accrue_through)",
            field="day",
            value=day.isoformat(),
        )
    penalty_daily, compound_daily = daily_units(
        overdue_principal_minor=overdue_principal_minor,
        overdue_interest_minor=overdue_interest_minor,
        product=product,
        annual_rate=annual_rate,
    )
    entries: list[Entry] = []
    for component, carry, daily in (
        (Component.PENALTY, state.penalty_carry_units, penalty_daily),
        (Component.COMPOUND, state.compound_carry_units, compound_daily),
    ):
        amount = _posted(carry, daily, product)
        if amount:
            entries.append(
                Entry(
                    component=component,
                    kind=EntryKind.ACCRUAL,
                    amount_minor=amount,
                    effective_on=day,
                    key=f"{key_prefix}:{day.isoformat()}:{component.value}",
                )
            )
    new_state = replace(
        state,
        last_accrued_on=day,
        penalty_carry_units=state.penalty_carry_units + penalty_daily,
        compound_carry_units=state.compound_carry_units + compound_daily,
    )
    return entries, new_state


def accrue_through(
    *,
    state: AccrualState,
    through: date,
    overdue_principal_minor: int,
    overdue_interest_minor: int,
    product: Product,
    annual_rate: Decimal,
    key_prefix: str = "accrual",
) -> tuple[list[Entry], AccrualState]:
    """Accrue every day after ``state.last_accrued_on`` up to and including ``through``, one day at a time.

    The overdue amounts are taken as unchanged over the gap (the caller splits the gap where they change).
    """
    entries: list[Entry] = []
    while state.last_accrued_on < through:
        day_entries, state = accrue(
            state=state,
            day=state.last_accrued_on + timedelta(days=1),
            overdue_principal_minor=overdue_principal_minor,
            overdue_interest_minor=overdue_interest_minor,
            product=product,
            annual_rate=annual_rate,
            key_prefix=key_prefix,
        )
        entries += day_entries
    return entries, state


# -- vectorised ---------------------------------------------------------------------------------------

_FRAME_COLUMNS: Final = (
    "account_id",
    "last_accrued_on",
    "overdue_principal_minor",
    "overdue_interest_minor",
    "annual_rate",
    "penalty_carry_units",
    "compound_carry_units",
)


def _round_units_expr(units: pl.Expr, mode: RoundingMode) -> pl.Expr:
    denominator = pl.lit(CARRY_DENOMINATOR, dtype=pl.Int128)
    q = units // denominator
    r = units - q * denominator
    twice = r * 2
    if mode == RoundingMode.DOWN:
        bump = pl.lit(False)
    elif mode == RoundingMode.UP:
        bump = r > 0
    elif mode == RoundingMode.HALF_UP:
        bump = twice >= denominator
    else:
        bump = (twice > denominator) | ((twice == denominator) & (q % 2 == 1))
    return q + bump.cast(pl.Int128)


def accrue_frame(accounts: pl.DataFrame, day: date, *, product: Product) -> pl.DataFrame:
    """Accrue ``day`` for many accounts of one product with whole-column operations.

    Columns in: ``account_id``; ``last_accrued_on`` (Date); ``overdue_principal_minor`` and
    ``overdue_interest_minor`` (integers >= 0); ``annual_rate`` (Decimal with at most 9 decimal
    places); ``penalty_carry_units`` and ``compound_carry_units`` (integers, the exact carries of
    :class:`AccrualState`).

    Columns out: the same, with ``last_accrued_on`` and the carries moved on where the day was
    accrued, plus ``outcome`` (``accrued``, ``already-accrued`` when the day is on or before
    ``last_accrued_on``, ``gap`` when days are missing before it: those rows are left unchanged),
    ``penalty_minor`` and ``compound_minor`` (what to post today). Row by row this equals
    :func:`accrue`.
    """
    missing = [c for c in _FRAME_COLUMNS if c not in accounts.columns]
    if missing:
        raise ValidationError(f"accrue_frame: missing columns {missing}", field="columns", value=missing)
    rate_type = accounts.schema["annual_rate"]
    if not isinstance(rate_type, pl.Decimal) or (rate_type.scale or 0) > RATE_DECIMALS:
        raise ValidationError(
            f"accrue_frame: annual_rate must be a Decimal column with at most {RATE_DECIMALS} decimal places",
            field="annual_rate",
        )
    negative = accounts.filter(
        (pl.col("overdue_principal_minor") < 0)
        | (pl.col("overdue_interest_minor") < 0)
        | (pl.col("annual_rate") < 0)
    )
    if negative.height:
        raise ValidationError(
            "accrue_frame: overdue amounts and rates must be >= 0",
            field="accounts",
            account_id=negative["account_id"][0],
        )
    penalty_mult, compound_mult = _multipliers(product)
    day_lit = pl.lit(day, dtype=pl.Date)
    next_day = pl.col("last_accrued_on") + pl.duration(days=1)
    outcome = (
        pl.when(day_lit <= pl.col("last_accrued_on"))
        .then(pl.lit("already-accrued"))
        .when(day_lit == next_day)
        .then(pl.lit("accrued"))
        .otherwise(pl.lit("gap"))
    )
    rate = (pl.col("annual_rate") * 10**RATE_DECIMALS).cast(pl.Int128)
    accrues = pl.col("outcome") == "accrued"
    zero = pl.lit(0, dtype=pl.Int128)

    def daily(balance: str, multiplier: int) -> pl.Expr:
        amount = pl.col(balance).cast(pl.Int128) * rate * pl.lit(multiplier, dtype=pl.Int128)
        return pl.when(accrues).then(amount).otherwise(zero)

    def posted(carry: str, daily_col: str) -> pl.Expr:
        if product.accrual_mode == AccrualMode.ROUND_DAILY:
            amount = _round_units_expr(pl.col(daily_col), product.rounding)
        else:
            new_carry = pl.col(carry) + pl.col(daily_col)
            amount = _round_units_expr(new_carry, product.rounding) - _round_units_expr(
                pl.col(carry), product.rounding
            )
        return amount.cast(pl.Int64)

    # Lazy on purpose: eager when/then over constant columns misbroadcasts in some Polars versions.
    return (
        accounts.lazy()
        .with_columns(
            outcome.alias("outcome"),
            pl.col("penalty_carry_units").cast(pl.Int128),
            pl.col("compound_carry_units").cast(pl.Int128),
        )
        .with_columns(
            daily("overdue_principal_minor", penalty_mult).alias("_penalty_daily"),
            daily("overdue_interest_minor", compound_mult).alias("_compound_daily"),
        )
        .with_columns(
            posted("penalty_carry_units", "_penalty_daily").alias("penalty_minor"),
            posted("compound_carry_units", "_compound_daily").alias("compound_minor"),
        )
        .with_columns(
            (pl.col("penalty_carry_units") + pl.col("_penalty_daily")).alias("penalty_carry_units"),
            (pl.col("compound_carry_units") + pl.col("_compound_daily")).alias("compound_carry_units"),
            pl.when(accrues).then(day_lit).otherwise(pl.col("last_accrued_on")).alias("last_accrued_on"),
        )
        .drop("_penalty_daily", "_compound_daily")
        .collect()
    )
