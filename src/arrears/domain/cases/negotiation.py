"""Negotiation rules: promise judgement, plan monitoring, affordability and authority limits.

Promises and plans are judged from what the ledger says was paid, in whole columns (Polars), so that
the daily cycle judges every open promise and plan at once. Amounts are integer minor units.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

import polars as pl

from arrears.domain.cases.enums import ConcessionKind, PlanStatus, PromiseStatus
from arrears.domain.cases.policy import CasePolicy, amount_minor
from arrears.errors import ValidationError

__all__ = [
    "Affordability",
    "assess_affordability",
    "authority_limit",
    "judge_promises",
    "monitor_plans",
    "roles_with_authority",
]


def judge_promises(
    promises: pl.DataFrame, payments: pl.DataFrame, *, as_of: dt.date, grace_days: int
) -> pl.DataFrame:
    """Kept, partially kept, broken or still pending, for every promise at once.

    ``promises``: promise_id, case_id, amount_minor, made_on, due_on.
    ``payments``: case_id, paid_on, amount_minor (net money received on the case's accounts that day).
    A payment counts towards a promise when made on or after the day it was made and no later than
    ``due_on + grace_days`` (and not after ``as_of``). Paid in full counts as kept at once; once the
    grace has run out, something paid is partially kept and nothing paid is broken.
    Returns promise_id, paid_minor, status.
    """
    window = promises.with_columns((pl.col("due_on") + pl.duration(days=grace_days)).alias("_deadline"))
    paid = (
        window.join(payments, on="case_id", how="inner")
        .filter(
            (pl.col("paid_on") >= pl.col("made_on"))
            & (pl.col("paid_on") <= pl.col("_deadline"))
            & (pl.col("paid_on") <= as_of)
        )
        .group_by("promise_id")
        .agg(pl.col("amount_minor_right").sum().alias("paid_minor"))
    )
    judged = window.join(paid, on="promise_id", how="left").with_columns(
        pl.col("paid_minor").fill_null(0).cast(pl.Int64)
    )
    status = (
        pl.when(pl.col("paid_minor") >= pl.col("amount_minor"))
        .then(pl.lit(PromiseStatus.KEPT.value))
        .when(pl.lit(as_of) <= pl.col("_deadline"))
        .then(pl.lit(PromiseStatus.PENDING.value))
        .when(pl.col("paid_minor") > 0)
        .then(pl.lit(PromiseStatus.PARTIALLY_KEPT.value))
        .otherwise(pl.lit(PromiseStatus.BROKEN.value))
    )
    return judged.select("promise_id", "paid_minor", status.alias("status")).sort("promise_id")


def monitor_plans(
    instalments: pl.DataFrame, paid: pl.DataFrame, *, as_of: dt.date, grace_days: int
) -> pl.DataFrame:
    """Whether each plan is on track, completed or broken on ``as_of``.

    ``instalments``: plan_id, number, due_on, amount_minor. ``paid``: plan_id, paid_minor (money
    received on the plan's accounts since it started). Payments cover instalments in order; an
    instalment still not covered more than ``grace_days`` after it fell due breaks the plan.
    Returns plan_id, total_minor, due_minor (due by ``as_of``), paid_minor, status, missed_number,
    missed_due_on.
    """
    ordered = instalments.sort("plan_id", "number").with_columns(
        pl.col("amount_minor").cum_sum().over("plan_id").alias("_cum")
    )
    frame = ordered.join(paid, on="plan_id", how="left").with_columns(pl.col("paid_minor").fill_null(0))
    late = (pl.col("due_on") + pl.duration(days=grace_days) < as_of) & (pl.col("_cum") > pl.col("paid_minor"))
    summary = frame.group_by("plan_id").agg(
        pl.col("amount_minor").sum().alias("total_minor"),
        pl.col("amount_minor").filter(pl.col("due_on") <= as_of).sum().alias("due_minor"),
        pl.col("paid_minor").first(),
        pl.col("number").filter(late).min().alias("missed_number"),
        pl.col("due_on").filter(late).min().alias("missed_due_on"),
    )
    status = (
        pl.when(pl.col("paid_minor") >= pl.col("total_minor"))
        .then(pl.lit(PlanStatus.COMPLETED.value))
        .when(pl.col("missed_number").is_not_null())
        .then(pl.lit(PlanStatus.BROKEN.value))
        .otherwise(pl.lit(PlanStatus.ACTIVE.value))
    )
    return (
        summary.with_columns(
            status.alias("status"),
            pl.col("due_minor").cast(pl.Int64),
            pl.col("total_minor").cast(pl.Int64),
            pl.col("paid_minor").cast(pl.Int64),
        )
        .select(
            "plan_id", "total_minor", "due_minor", "paid_minor", "status", "missed_number", "missed_due_on"
        )
        .sort("plan_id")
    )


@dataclass(frozen=True, slots=True)
class Affordability:
    """The result of an income and expenditure assessment, in minor units."""

    income_minor: int
    expenses_minor: int
    dependants: int
    dependant_allowance_minor: int
    disposable_minor: int
    max_instalment_minor: int

    def is_sustainable(self, instalment_minor: int) -> bool:
        """Whether a monthly instalment of ``instalment_minor`` fits the sustainable amount."""
        return instalment_minor <= self.max_instalment_minor


def assess_affordability(
    *, income_minor: int, expenses_minor: int, dependants: int, currency: str, policy: CasePolicy
) -> Affordability:
    """Disposable income and the largest sustainable monthly instalment.

    disposable = income − expenses − dependants × the policy's allowance per dependant (per
    currency); the sustainable instalment is the policy's share of a positive disposable income,
    rounded down to the minor unit (CONC 7.3.4R: forbearance and plans fit what the customer can pay).
    """
    for name, value in (("income", income_minor), ("expenses", expenses_minor), ("dependants", dependants)):
        if value < 0:
            raise ValidationError(f"{name} must not be negative, got {value}", field=name, value=value)
    allowance = amount_minor(policy.affordability.dependant_allowance, currency) or 0
    disposable = income_minor - expenses_minor - dependants * allowance
    share = policy.affordability.sustainable_share
    sustainable = int((Decimal(max(disposable, 0)) * share).to_integral_value(rounding=ROUND_FLOOR))
    return Affordability(
        income_minor=income_minor,
        expenses_minor=expenses_minor,
        dependants=dependants,
        dependant_allowance_minor=allowance,
        disposable_minor=disposable,
        max_instalment_minor=sustainable,
    )


def authority_limit(
    policy: CasePolicy, *, role: str, kind: ConcessionKind, balance_minor: int, currency: str
) -> int:
    """The largest concession (minor units) ``role`` may grant alone on a balance of ``balance_minor``.

    A role the policy does not list has no authority (0).
    """
    limit = policy.authority.get(role, {}).get(kind)
    if limit is None:
        return 0
    by_share = int((Decimal(max(balance_minor, 0)) * limit.share).to_integral_value(rounding=ROUND_FLOOR))
    if limit.max is None:
        return by_share
    cap = amount_minor(limit.max, currency)
    return min(by_share, cap if cap is not None else 0)


def roles_with_authority(
    policy: CasePolicy, *, kind: ConcessionKind, concession_minor: int, balance_minor: int, currency: str
) -> list[str]:
    """The roles whose authority covers a concession of ``concession_minor`` (sorted)."""
    return sorted(
        role
        for role in policy.authority
        if concession_minor
        <= authority_limit(policy, role=role, kind=kind, balance_minor=balance_minor, currency=currency)
    )
