"""Where each account stands on a date: what has fallen due, what of it is unpaid, days past due.

Inputs are whole columns: the accounts' contractual schedules (one row per instalment) and their
ledger balances on the date. The rule, for each account at ``as_of``:

* principal not yet due = Σ principal of instalments due after ``as_of``;
* overdue = (principal balance − principal not yet due) + interest balance + the scheduled interest
  of instalments that fell due after the ledger's interest was last brought up to date
  (``charged_through_on``);
* covered = everything the schedule has made due by ``as_of`` − overdue;
* the oldest unpaid instalment is the first whose running total of principal and interest exceeds
  covered; days past due count from its due date (contractual method), or are 0 if it is not due yet.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from arrears.domain.delinquency import dpd_frame
from arrears.domain.schedule_codec import unpack_schedules

__all__ = ["explode_schedules", "positions"]


def explode_schedules(accounts: pl.DataFrame, *, schedule_col: str = "schedule") -> pl.DataFrame:
    """Packed schedules (:mod:`arrears.domain.schedule_codec`, one per account) to one row per instalment.

    Returns ``account_id, number, due_on, principal_minor, interest_minor``.
    """
    return unpack_schedules(accounts, key="account_id", column=schedule_col)


def positions(
    items: pl.DataFrame,
    balances: pl.DataFrame,
    *,
    as_of: dt.date,
) -> pl.DataFrame:
    """Overdue amount, oldest unpaid due date and DPD per account.

    ``items``: account_id, due_on, principal_minor, interest_minor (one row per instalment).
    ``balances``: account_id, principal_minor, interest_minor (ledger folds at ``as_of``) and
    charged_through_on (Date).
    Returns account_id, due_total_minor, future_principal_minor, overdue_minor, covered_minor,
    dpd, oldest_unpaid_due_on.
    """
    joined = items.join(balances.select("account_id", "charged_through_on"), on="account_id", how="inner")
    due = pl.col("due_on") <= as_of
    sums = joined.group_by("account_id").agg(
        ((pl.col("principal_minor") + pl.col("interest_minor")).filter(due).sum()).alias("due_total_minor"),
        pl.col("principal_minor").filter(~due).sum().alias("future_principal_minor"),
        pl.col("interest_minor")
        .filter(due & (pl.col("due_on") > pl.col("charged_through_on")))
        .sum()
        .alias("_unposted_interest"),
    )
    frame = balances.join(sums, on="account_id", how="left").with_columns(
        pl.col("due_total_minor").fill_null(0),
        pl.col("future_principal_minor").fill_null(0),
        pl.col("_unposted_interest").fill_null(0),
    )
    overdue = (
        pl.max_horizontal(pl.col("principal_minor") - pl.col("future_principal_minor"), pl.lit(0))
        + pl.col("interest_minor")
        + pl.col("_unposted_interest")
    )
    frame = frame.with_columns(overdue.alias("overdue_minor")).with_columns(
        pl.max_horizontal(pl.col("due_total_minor") - pl.col("overdue_minor"), pl.lit(0)).alias(
            "covered_minor"
        )
    )
    delinquency = dpd_frame(
        items.select(
            "account_id",
            "due_on",
            (pl.col("principal_minor") + pl.col("interest_minor")).alias("amount_minor"),
        ),
        frame.select("account_id", "covered_minor"),
        as_of,
    )
    return frame.join(
        delinquency.select("account_id", "dpd", "oldest_unpaid_due_on"), on="account_id", how="left"
    ).select(
        "account_id",
        "due_total_minor",
        "future_principal_minor",
        "overdue_minor",
        "covered_minor",
        pl.col("dpd").fill_null(0),
        "oldest_unpaid_due_on",
    )
