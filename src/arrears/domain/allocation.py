"""Payment allocation: which part of a debt a payment pays, in what order (the waterfall).

A waterfall is an ordered list of :class:`~arrears.domain.ledger.Component`. A payment fills the
first component up to what is owed on it, then the next, and so on; what is left once every listed
component is paid is the *excess* (an overpayment, held unapplied).

The named waterfalls and their legal basis:

* ``cn-civil-code-561``: 《民法典》第五百六十一条, the statutory default when the parties agreed no
  order: costs of realising the claim → interest → principal.
* ``cn-bank-contract``: the common bank-contract clause 费用 → 罚息 → 复利 → 利息 → 本金, with the
  costs of realising the claim ahead of it (art. 561 puts them first and contracts keep them there).
* ``interest-first``: 罚息 → 复利 → 利息 → 本金, with costs and fees last.
* ``us-installment``: fees → interest → principal, the usual US instalment-contract order.
* ``us-card``: the same component order within one card balance; the split *across* card balances
  of different APRs is :func:`allocate_card` (12 CFR 1026.53).

Card payments across balances follow Reg Z: the minimum payment is at the issuer's discretion
(lowest APR first, the common choice), the excess goes to the highest APR first (12 CFR 1026.53(a)),
and a deferred-interest balance takes the excess first in the two billing cycles before its promotion
ends (12 CFR 1026.53(b)(1)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final

import polars as pl

from arrears.domain.ledger import Component
from arrears.errors import ConfigurationError, ValidationError

__all__ = [
    "WATERFALLS",
    "Allocation",
    "CardBalance",
    "Waterfall",
    "allocate",
    "allocate_card",
    "allocate_frame",
    "get_waterfall",
    "resolve_order",
]


@dataclass(frozen=True, slots=True)
class Waterfall:
    """A named allocation order and the rule it comes from."""

    name: str
    order: tuple[Component, ...]
    basis: str


_C = Component

WATERFALLS: Final[Mapping[str, Waterfall]] = {
    w.name: w
    for w in (
        Waterfall(
            "cn-civil-code-561",
            # 《民法典》第561条: (1) 实现债权的有关费用 (2) 利息 (3) 主债务. 罚息 and 复利 are interest
            # on overdue amounts, so they sit in the interest tier after contractual interest (which
            # fell due first). Late and service fees are contractual charges (违约金 in kind) that the
            # article does not name; they come after principal so that the statutory tiers are
            # served first.
            (_C.COST, _C.INTEREST, _C.PENALTY, _C.COMPOUND, _C.PRINCIPAL, _C.FEE),
            "民法典 第561条 (default order when the parties agreed none)",
        ),
        Waterfall(
            "cn-bank-contract",
            # Common loan-contract clause 费用→罚息→复利→利息→本金 (约定优先 under art. 561). The costs
            # of realising the claim (legal and collection costs) go first, as art. 561 has them and as
            # bank clauses usually begin "实现债权的费用".
            (_C.COST, _C.FEE, _C.PENALTY, _C.COMPOUND, _C.INTEREST, _C.PRINCIPAL),
            "contractual order, allowed by 民法典 第561条 (约定优先)",
        ),
        Waterfall(
            "interest-first",
            (_C.PENALTY, _C.COMPOUND, _C.INTEREST, _C.PRINCIPAL, _C.COST, _C.FEE),
            "contractual order: interest and principal before costs and fees",
        ),
        Waterfall(
            "us-installment",
            # Contract or state law; fees → interest → principal is the common clause. A fee-first
            # order must never create a new late fee (16 CFR 444.4): see delinquency.late_fee_due.
            (_C.FEE, _C.COST, _C.PENALTY, _C.COMPOUND, _C.INTEREST, _C.PRINCIPAL),
            "contract / state law; late-fee pyramiding barred by 16 CFR 444.4",
        ),
        Waterfall(
            "us-card",
            (_C.FEE, _C.COST, _C.PENALTY, _C.COMPOUND, _C.INTEREST, _C.PRINCIPAL),
            "card agreement within a balance; across balances 12 CFR 1026.53",
        ),
    )
}


def get_waterfall(name: str) -> Waterfall:
    """The registered waterfall called ``name``; an unknown name is a configuration error."""
    try:
        return WATERFALLS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown waterfall {name!r}; known: {', '.join(sorted(WATERFALLS))}",
            field="allocation",
            value=name,
        ) from None


def resolve_order(spec: str | Sequence[Component | str]) -> tuple[Component, ...]:
    """A waterfall name or an explicit component list, as an ordered tuple of components."""
    if isinstance(spec, str):
        return get_waterfall(spec).order
    try:
        order = tuple(Component(c) for c in spec)
    except ValueError as exc:
        raise ValidationError(f"waterfall: {exc}", field="waterfall") from None
    if len(set(order)) != len(order):
        raise ValidationError("waterfall: a component is listed twice", field="waterfall")
    return order


@dataclass(frozen=True, slots=True)
class Allocation:
    """How one payment was split: minor units applied per component (in waterfall order) and the excess."""

    applied: Mapping[Component, int] = field(hash=False)
    excess_minor: int

    @property
    def applied_minor(self) -> int:
        """Total applied to the debt (payment minus excess)."""
        return sum(self.applied.values())


def allocate(payment_minor: int, owed: Mapping[Component, int], order: Sequence[Component]) -> Allocation:
    """Apply ``payment_minor`` to ``owed`` component by component in ``order``.

    A component is paid in full before the next receives anything; components not in ``order`` receive
    nothing. Negative owed amounts (a credit balance on a component) count as nothing owed.
    """
    if isinstance(payment_minor, bool) or not isinstance(payment_minor, int):
        raise ValidationError("payment_minor must be an integer number of minor units", field="payment_minor")
    if payment_minor < 0:
        raise ValidationError("a payment cannot be negative", field="payment_minor", value=payment_minor)
    order = resolve_order(order)
    remaining = payment_minor
    applied: dict[Component, int] = {}
    for component in order:
        take = min(remaining, max(owed.get(component, 0), 0))
        applied[component] = take
        remaining -= take
    return Allocation(applied=applied, excess_minor=remaining)


# -- Reg Z card allocation ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardBalance:
    """One balance of a card account (purchases, cash advance, a promotional balance ...)."""

    id: str
    apr: Decimal
    balance_minor: int
    deferred_promo_ends_on: date | None = None


def _in_deferred_window(b: CardBalance, as_of: date, cycle_days: int) -> bool:
    # 12 CFR 1026.53(b)(1): during the two billing cycles immediately preceding expiry of a
    # deferred-interest period, the excess over the minimum goes first to that balance.
    if b.deferred_promo_ends_on is None or as_of >= b.deferred_promo_ends_on:
        return False
    return (b.deferred_promo_ends_on - as_of).days <= 2 * cycle_days


def allocate_card(
    payment_minor: int,
    minimum_minor: int,
    balances: Sequence[CardBalance],
    *,
    as_of: date,
    cycle_days: int = 30,
) -> dict[str, int]:
    """Split a card payment across balances of different APRs; returns minor units paid per balance id.

    * The minimum payment goes to the lowest APR first (issuer's discretion, the common choice).
    * Any amount above the minimum goes to the highest APR first (12 CFR 1026.53(a)).
    * A deferred-interest balance whose promotion ends within the next two billing cycles
      (``2 * cycle_days`` days after ``as_of``) takes the excess first (12 CFR 1026.53(b)(1)).

    Ties in APR keep the order of ``balances``. A payment larger than all balances leaves an
    overpayment of ``payment_minor - sum(result.values())``.
    """
    if payment_minor < 0 or minimum_minor < 0:
        raise ValidationError("payment and minimum must not be negative", field="payment_minor")
    ids = [b.id for b in balances]
    if len(set(ids)) != len(ids):
        raise ValidationError("card balance ids must be unique", field="balances")
    left = {b.id: max(b.balance_minor, 0) for b in balances}
    paid = dict.fromkeys(ids, 0)

    def pour(amount: int, ordered: Sequence[CardBalance]) -> int:
        for b in ordered:
            take = min(amount, left[b.id])
            left[b.id] -= take
            paid[b.id] += take
            amount -= take
        return amount

    minimum_part = min(payment_minor, minimum_minor)
    excess = payment_minor - minimum_part
    # sorted() is stable: equal APRs keep the caller's order.
    unused = pour(minimum_part, sorted(balances, key=lambda b: b.apr))
    excess += unused
    deferred = sorted(
        (b for b in balances if _in_deferred_window(b, as_of, cycle_days)),
        key=lambda b: b.deferred_promo_ends_on or as_of,
    )
    excess = pour(excess, deferred)
    pour(excess, sorted(balances, key=lambda b: b.apr, reverse=True))
    return paid


# -- vectorised -------------------------------------------------------------------------------------------


def allocate_frame(
    df: pl.DataFrame, order: str | Sequence[Component], payment_col: str = "payment_minor"
) -> pl.DataFrame:
    """Allocate one payment per row with whole-column operations.

    ``df`` holds ``payment_col`` and an owed column ``<component>_minor`` for every component in the
    waterfall (the shape :func:`arrears.domain.ledger.fold_frame` produces). Adds
    ``applied_<component>_minor`` for each component in order and ``excess_minor``. Row by row the
    result equals :func:`allocate`.
    """
    components = resolve_order(order)
    missing = [f"{c}_minor" for c in components if f"{c}_minor" not in df.columns]
    if payment_col not in df.columns:
        missing.insert(0, payment_col)
    if missing:
        raise ValidationError(f"allocate_frame: missing columns {missing}", field="columns", value=missing)
    lowest = df.select(pl.col(payment_col).min()).item()
    if lowest is not None and lowest < 0:
        raise ValidationError("allocate_frame: a payment cannot be negative", field=payment_col)
    payment = pl.col(payment_col).cast(pl.Int64)
    # Each component takes clip(payment - owed before it, 0, owed): a prefix sum over components,
    # evaluated column-wise for all rows at once.
    owed_before: pl.Expr = pl.lit(0, dtype=pl.Int64)
    applied: list[pl.Expr] = []
    for c in components:
        owed = pl.max_horizontal(pl.col(f"{c}_minor").cast(pl.Int64), pl.lit(0, dtype=pl.Int64))
        room = pl.max_horizontal(payment - owed_before, pl.lit(0, dtype=pl.Int64))
        applied.append(pl.min_horizontal(room, owed).alias(f"applied_{c}_minor"))
        owed_before = owed_before + owed
    total_owed = owed_before
    excess = pl.max_horizontal(payment - total_owed, pl.lit(0, dtype=pl.Int64)).alias("excess_minor")
    return df.lazy().with_columns(*applied, excess).collect()
