"""Days past due (contractual method), delinquency buckets and the late-fee test.

DPD is counted from the oldest unpaid contractual due date: walk the due items in due order,
accumulating their amounts; the first item whose cumulative amount exceeds what has been credited
towards the items is the oldest unpaid one. DPD = ``as_of`` − its due date when that date is on or
before ``as_of``, else 0.

Two bucket views of the same DPD:

* China (M-buckets): M0 = 0, M1 = 1–30, M2 = 31–60, ... M6 = 151–180, M7+ = 181 and over.
* US (Metro 2 account status): 1–29 DPD is still reported current (11); 30–59 is 71, 60–89 is 78,
  90–119 is 80, 120–149 is 82, 150–179 is 83, 180 and over is 84, and 97 once charged off.

Chinese M1 (1–30) is therefore not the US "30 days past due" (30–59, closer to M2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import TYPE_CHECKING, Final

import polars as pl

from arrears.domain.money import to_minor
from arrears.errors import ValidationError

if TYPE_CHECKING:
    from arrears.domain.products import Product

__all__ = [
    "BucketScheme",
    "CnBucket",
    "Delinquency",
    "DueItem",
    "LateFeeDecision",
    "UsBucket",
    "bucket",
    "bucket_expr",
    "cn_bucket",
    "days_past_due",
    "dpd_frame",
    "late_fee_due",
    "metro2_expr",
    "metro2_status",
    "us_bucket",
]


class BucketScheme(StrEnum):
    """Which delinquency-bucket view a product reports in."""

    CN = "cn"
    US = "us"


class CnBucket(StrEnum):
    """Chinese M-buckets in 30-day blocks (M1 = 1–30 DPD)."""

    M0 = "M0"
    M1 = "M1"
    M2 = "M2"
    M3 = "M3"
    M4 = "M4"
    M5 = "M5"
    M6 = "M6"
    M7_PLUS = "M7+"


class UsBucket(StrEnum):
    """US DPD buckets as credit reporting sees them (1–29 DPD is still current)."""

    CURRENT = "current"
    D1_29 = "1-29"
    D30 = "30"
    D60 = "60"
    D90 = "90"
    D120 = "120"
    D150 = "150"
    D180_PLUS = "180+"


# (lowest DPD of the bucket, bucket), ascending.
_CN_EDGES: Final[tuple[tuple[int, CnBucket], ...]] = (
    (0, CnBucket.M0),
    (1, CnBucket.M1),
    (31, CnBucket.M2),
    (61, CnBucket.M3),
    (91, CnBucket.M4),
    (121, CnBucket.M5),
    (151, CnBucket.M6),
    (181, CnBucket.M7_PLUS),
)
_US_EDGES: Final[tuple[tuple[int, UsBucket], ...]] = (
    (0, UsBucket.CURRENT),
    (1, UsBucket.D1_29),
    (30, UsBucket.D30),
    (60, UsBucket.D60),
    (90, UsBucket.D90),
    (120, UsBucket.D120),
    (150, UsBucket.D150),
    (180, UsBucket.D180_PLUS),
)
# Metro 2 Account Status codes (CDIA CRRG): 11 current (includes 1–29 DPD), 71 30–59, 78 60–89,
# 80 90–119, 82 120–149, 83 150–179, 84 180+, 97 charged off.
_METRO2: Final[dict[UsBucket, str]] = {
    UsBucket.CURRENT: "11",
    UsBucket.D1_29: "11",
    UsBucket.D30: "71",
    UsBucket.D60: "78",
    UsBucket.D90: "80",
    UsBucket.D120: "82",
    UsBucket.D150: "83",
    UsBucket.D180_PLUS: "84",
}
METRO2_CHARGED_OFF: Final = "97"


def _check_dpd(dpd: int) -> None:
    if isinstance(dpd, bool) or not isinstance(dpd, int) or dpd < 0:
        raise ValidationError(f"dpd must be a whole number of days >= 0, got {dpd!r}", field="dpd", value=dpd)


def cn_bucket(dpd: int) -> CnBucket:
    """The Chinese M-bucket of ``dpd`` days past due."""
    _check_dpd(dpd)
    return next(b for low, b in reversed(_CN_EDGES) if dpd >= low)


def us_bucket(dpd: int) -> UsBucket:
    """The US DPD bucket of ``dpd`` days past due."""
    _check_dpd(dpd)
    return next(b for low, b in reversed(_US_EDGES) if dpd >= low)


def bucket(dpd: int, scheme: BucketScheme | str) -> CnBucket | UsBucket:
    """The bucket of ``dpd`` in ``scheme`` (``cn`` or ``us``)."""
    return cn_bucket(dpd) if BucketScheme(scheme) is BucketScheme.CN else us_bucket(dpd)


def metro2_status(dpd: int, charged_off: bool = False) -> str:
    """The Metro 2 Account Status code for ``dpd`` ("11" current through 29 DPD; "97" once charged off)."""
    _check_dpd(dpd)
    return METRO2_CHARGED_OFF if charged_off else _METRO2[us_bucket(dpd)]


def _as_expr(col: str | pl.Expr) -> pl.Expr:
    return pl.col(col) if isinstance(col, str) else col


def bucket_expr(dpd_col: str | pl.Expr, scheme: BucketScheme | str) -> pl.Expr:
    """A Polars expression giving the bucket label of a DPD column (an ``Enum`` in bucket order).

    A null or negative DPD gives a null bucket. Name the result with ``.alias``.
    """
    edges: tuple[tuple[int, StrEnum], ...] = (
        _CN_EDGES if BucketScheme(scheme) is BucketScheme.CN else _US_EDGES
    )
    dpd = _as_expr(dpd_col)
    labels = [b.value for _, b in edges]
    expr: pl.Expr = pl.lit(edges[-1][1].value)
    for (_, b), (next_low, _) in reversed(list(pairwise(edges))):
        expr = pl.when(dpd < next_low).then(pl.lit(b.value)).otherwise(expr)
    expr = pl.when(dpd.is_null() | (dpd < 0)).then(pl.lit(None, dtype=pl.String)).otherwise(expr)
    return expr.cast(pl.Enum(labels))


def metro2_expr(dpd_col: str | pl.Expr, charged_off_col: str | pl.Expr | None = None) -> pl.Expr:
    """A Polars expression giving the Metro 2 Account Status code of a DPD column."""
    us = bucket_expr(dpd_col, BucketScheme.US).cast(pl.String)
    code = us.replace_strict({b.value: c for b, c in _METRO2.items()}, default=None, return_dtype=pl.String)
    if charged_off_col is None:
        return code
    return pl.when(_as_expr(charged_off_col)).then(pl.lit(METRO2_CHARGED_OFF)).otherwise(code)


# -- days past due ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueItem:
    """One contractual amount falling due (an instalment, a minimum payment)."""

    due_on: date
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Delinquency:
    """Days past due, the oldest unpaid due date (None when everything due is covered) and the overdue amount.

    ``overdue_minor`` is what fell due strictly before ``as_of`` and is not covered; an item due on
    ``as_of`` itself is due, not yet overdue.
    """

    dpd: int
    oldest_unpaid_due_on: date | None
    overdue_minor: int


def days_past_due(items: Iterable[DueItem], covered_minor: int, as_of: date) -> Delinquency:
    """Contractual DPD of one account.

    ``covered_minor`` is everything credited towards the due items; it covers them in due order.
    """
    ordered = sorted(items, key=lambda i: i.due_on)
    cumulative = 0
    oldest: date | None = None
    due_before = 0
    for item in ordered:
        cumulative += item.amount_minor
        if oldest is None and cumulative > covered_minor:
            oldest = item.due_on
        if item.due_on < as_of:
            due_before = cumulative
    dpd = (as_of - oldest).days if oldest is not None and oldest <= as_of else 0
    return Delinquency(dpd=dpd, oldest_unpaid_due_on=oldest, overdue_minor=max(due_before - covered_minor, 0))


def dpd_frame(items: pl.DataFrame, covered: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Contractual DPD for many accounts with whole-column operations.

    ``items``: ``account_id``, ``due_on`` (Date), ``amount_minor``. ``covered``: ``account_id``,
    ``covered_minor`` (an account missing from it has covered nothing). Returns one row per account in
    ``items``, sorted by ``account_id``: ``account_id``, ``dpd``, ``oldest_unpaid_due_on``,
    ``overdue_minor``, equal to :func:`days_past_due` account by account.
    """
    for name, frame, cols in (
        ("items", items, ("account_id", "due_on", "amount_minor")),
        ("covered", covered, ("account_id", "covered_minor")),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValidationError(f"dpd_frame: {name} lacks columns {missing}", field=name, value=missing)
    as_of_lit = pl.lit(as_of, dtype=pl.Date)
    amount = pl.col("amount_minor").cast(pl.Int64)
    covered_per_account = covered.select("account_id", pl.col("covered_minor").cast(pl.Int64))
    # Sorted by account and due date, a running sum within each account finds the oldest unpaid
    # item: the earliest one whose cumulative amount exceeds what is covered. The running sum is a
    # global cumulative sum minus its value where the account starts (cheaper than a windowed sum).
    ordered = items.select("account_id", "due_on", amount).sort("account_id", "due_on")
    running = pl.col("amount_minor").cum_sum()
    starts = pl.col("account_id") != pl.col("account_id").shift(1)
    offset = pl.when(starts.fill_null(True)).then(running - pl.col("amount_minor")).forward_fill()
    result = (
        ordered.lazy()
        .with_columns((running - offset).alias("_cum"))
        .join(covered_per_account.lazy(), on="account_id", how="left")
        .with_columns(pl.col("covered_minor").fill_null(0))
        .group_by("account_id")
        .agg(
            pl.col("due_on")
            .filter(pl.col("_cum") > pl.col("covered_minor"))
            .min()
            .alias("oldest_unpaid_due_on"),
            pl.col("amount_minor").filter(pl.col("due_on") < as_of_lit).sum().alias("_due_before"),
            pl.col("covered_minor").first(),
        )
    )
    oldest = pl.col("oldest_unpaid_due_on")
    dpd = pl.when(oldest <= as_of_lit).then((as_of_lit - oldest).dt.total_days()).otherwise(0)
    overdue = pl.max_horizontal(pl.col("_due_before") - pl.col("covered_minor"), pl.lit(0))
    return (
        result.select(
            "account_id",
            dpd.cast(pl.Int64).alias("dpd"),
            oldest,
            overdue.cast(pl.Int64).alias("overdue_minor"),
        )
        .sort("account_id")
        .collect()
    )


# -- late fees ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LateFeeDecision:
    """Whether a late fee may be assessed now, how much, and why (a stable reason code)."""

    is_due: bool
    amount_minor: int
    reason: str


def late_fee_due(
    *,
    product: Product,
    due_on: date,
    scheduled_minor: int,
    received_by_grace_end_minor: int,
    as_of: date,
    earlier_unpaid_scheduled_minor: int = 0,
    fees_already_assessed: int = 0,
) -> LateFeeDecision:
    """Whether a late fee may be assessed on the instalment due ``due_on``.

    The test is made on money *received*, never on how the waterfall split it:
    ``received_by_grace_end_minor`` is everything received for this and earlier instalments by the end
    of the grace period, ``scheduled_minor`` the instalment's scheduled amount and
    ``earlier_unpaid_scheduled_minor`` scheduled amounts (principal and interest, not fees) of earlier
    instalments still unpaid. Earlier unpaid late fees are deliberately not an input: a payment that is
    otherwise full and on time must not attract a new late fee because an allocation order applied part
    of it to an earlier fee (16 CFR 444.4, pyramiding).

    Reasons: ``no-late-fee`` (the product has none), ``in-grace``, ``paid-in-full``,
    ``limit-reached`` (``max_per_installment`` fees already), ``shortfall`` (a fee is due).
    """
    fee = product.late_fee
    if fee is None:
        return LateFeeDecision(False, 0, "no-late-fee")
    if as_of <= due_on + timedelta(days=fee.grace_days):
        return LateFeeDecision(False, 0, "in-grace")
    shortfall = scheduled_minor + earlier_unpaid_scheduled_minor - received_by_grace_end_minor
    if shortfall <= 0:
        # 16 CFR 444.4: the only delinquency, if any, is an earlier late fee.
        return LateFeeDecision(False, 0, "paid-in-full")
    if fees_already_assessed >= fee.max_per_installment:
        return LateFeeDecision(False, 0, "limit-reached")
    return LateFeeDecision(True, to_minor(fee.amount, product.currency), "shortfall")
