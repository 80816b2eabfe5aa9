"""Model features from the platform's own data, and the deny list of protected attributes.

:func:`build_features` is a pure function of five frames and a date: nothing after ``as_of`` is
read, so the same call reproduces a training snapshot or scores today's book. The input columns
are listed in :data:`INPUT_COLUMNS` and described in docs/scoring.md. Amounts are integer minor
units; entries are signed (positive raises what the debtor owes, negative lowers it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Final

import polars as pl

from arrears.errors import ValidationError

__all__ = [
    "DEFAULT_DENY_LIST",
    "FEATURE_COLUMNS",
    "INPUT_COLUMNS",
    "RIGHT_PARTY_OUTCOMES",
    "build_features",
    "check_allowed",
    "denied_features",
]

INPUT_COLUMNS: Final[Mapping[str, Mapping[str, type[pl.DataType] | pl.DataType]]] = {
    "accounts": {"account_id": pl.String, "product": pl.String, "opened_on": pl.Date},
    "entries": {"account_id": pl.String, "posted_on": pl.Date, "kind": pl.String, "amount_minor": pl.Int64},
    "contacts": {
        "account_id": pl.String,
        "attempted_at": pl.Datetime("us", "UTC"),
        "channel": pl.String,
        "outcome": pl.String,
    },
    "promises": {
        "account_id": pl.String,
        "made_on": pl.Date,
        "due_on": pl.Date,
        "amount_minor": pl.Int64,
        "status": pl.String,
    },
    "snapshots": {
        "account_id": pl.String,
        "snapshot_on": pl.Date,
        "dpd": pl.Int64,
        "balance_minor": pl.Int64,
    },
}

# Contact outcomes in which the debtor in person was reached (right-party contact).
RIGHT_PARTY_OUTCOMES: Final[frozenset[str]] = frozenset({"right_party", "promise", "refused", "dispute"})

FEATURE_COLUMNS: Final[tuple[str, ...]] = (
    "product",
    "days_on_book",
    "dpd",
    "bucket",
    "dpd_max_90d",
    "dpd_max_180d",
    "share_30plus_180d",
    "bucket_rolls_180d",
    "bucket_cures_180d",
    "balance_minor",
    "balance_ratio_90d",
    "payments_90d",
    "paid_90d_minor",
    "paid_180d_minor",
    "days_since_last_payment",
    "payment_months_180d",
    "payment_gap_cv_360d",
    "promises_made_180d",
    "promises_kept_180d",
    "promises_broken_180d",
    "promise_kept_rate_180d",
    "has_open_promise",
    "contact_attempts_90d",
    "rpc_90d",
    "rpc_rate_90d",
    "refusals_90d",
    "days_since_last_rpc",
)

# Attributes a collection model must never use: characteristics protected against discrimination
# (e.g. PRC Employment Promotion Law art. 3, ECOA/Regulation B 12 CFR 1002.6(b), EU AI Act art. 10)
# and PIPL art. 28 sensitive personal information (health, religion, biometrics, whereabouts ...).
# A name is denied when it equals an entry, or when one of its words (split on non-letters) does.
DEFAULT_DENY_LIST: Final[tuple[str, ...]] = (
    "age",
    "birth",
    "birthday",
    "date_of_birth",
    "dob",
    "sex",
    "gender",
    "race",
    "ethnicity",
    "ethnic",
    "nationality",
    "foreign",
    "religion",
    "religious",
    "marital",
    "marriage",
    "married",
    "pregnancy",
    "pregnant",
    "disability",
    "disabled",
    "health",
    "medical",
    "sexual",
    "orientation",
    "political",
    "party_membership",
    "union",
    "biometric",
    "hukou",
    "household_registration",
    "personal_status",
    "location",
    "whereabouts",
)

_WORD = re.compile(r"[a-z]+")


def denied_features(columns: Iterable[str], *, deny: Sequence[str] = DEFAULT_DENY_LIST) -> list[str]:
    """The columns that match the deny list (whole name, or one of its words), in input order."""
    terms = {d.lower() for d in deny}
    out = []
    for column in columns:
        lowered = column.lower()
        words = set(_WORD.findall(lowered))
        if lowered in terms or words & terms or any("_" in t and t in lowered for t in terms):
            out.append(column)
    return out


def check_allowed(columns: Iterable[str], *, deny: Sequence[str] = DEFAULT_DENY_LIST) -> None:
    """Refuse to train on protected attributes: raise :class:`ValidationError` naming them."""
    bad = denied_features(columns, deny=deny)
    if bad:
        raise ValidationError(
            f"protected attributes cannot be model features: {', '.join(bad)}; drop them "
            "(or change the deny list in configuration if a name is a false match)",
            features=bad,
        )


def _check_inputs(frames: Mapping[str, pl.DataFrame]) -> None:
    for name, columns in INPUT_COLUMNS.items():
        frame = frames[name]
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise ValidationError(f"{name} lacks columns: {', '.join(absent)}", frame=name, columns=absent)
    attempted = frames["contacts"].schema["attempted_at"]
    if not isinstance(attempted, pl.Datetime) or attempted.time_zone is None:
        raise ValidationError(
            "contacts.attempted_at must be a timezone-aware datetime", column="attempted_at"
        )


def _days(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days()


def build_features(
    accounts: pl.DataFrame,
    entries: pl.DataFrame,
    contacts: pl.DataFrame,
    promises: pl.DataFrame,
    snapshots: pl.DataFrame,
    *,
    as_of: date,
) -> pl.DataFrame:
    """One row per account with the columns of :data:`FEATURE_COLUMNS` (plus ``account_id``), as of ``as_of``.

    Only rows dated on or before ``as_of`` are used (contacts: attempted on or before that UTC
    day). Counts default to 0 for an account without history; values that need history (days
    since the last payment, DPD without a snapshot, rates with no denominator) are null, which
    the models treat as a bin of its own. Promise statuses must be those known on ``as_of``;
    kept and broken count only promises already due by then.
    """
    _check_inputs(
        {
            "accounts": accounts,
            "entries": entries,
            "contacts": contacts,
            "promises": promises,
            "snapshots": snapshots,
        }
    )
    day = pl.lit(as_of, dtype=pl.Date)
    d90 = pl.lit(as_of - timedelta(days=90), dtype=pl.Date)
    d180 = pl.lit(as_of - timedelta(days=180), dtype=pl.Date)
    d360 = pl.lit(as_of - timedelta(days=360), dtype=pl.Date)

    base = accounts.lazy().select(
        pl.col("account_id").cast(pl.String),
        pl.col("product").cast(pl.String),
        _days(day, pl.col("opened_on")).alias("days_on_book"),
    )

    snaps = (
        snapshots.lazy()
        .filter(pl.col("snapshot_on") <= day)
        .with_columns(
            # collection buckets of 30 days: 0 current, 1 = 1–30 DPD, … , 7 = 181+ DPD
            ((pl.col("dpd").clip(lower_bound=0) + 29) // 30).clip(upper_bound=7).alias("_bucket")
        )
        .sort("account_id", "snapshot_on")
        .with_columns(pl.col("_bucket").diff().over("account_id").alias("_step"))
    )
    snap_features = snaps.group_by("account_id").agg(
        pl.col("dpd").last().alias("dpd"),
        pl.col("_bucket").last().alias("bucket"),
        pl.col("dpd").filter(pl.col("snapshot_on") > d90).max().alias("dpd_max_90d"),
        pl.col("dpd").filter(pl.col("snapshot_on") > d180).max().alias("dpd_max_180d"),
        (pl.col("dpd").filter(pl.col("snapshot_on") > d180) >= 30).mean().alias("share_30plus_180d"),
        (pl.col("_step").filter(pl.col("snapshot_on") > d180) > 0).sum().alias("bucket_rolls_180d"),
        (pl.col("_step").filter(pl.col("snapshot_on") > d180) < 0).sum().alias("bucket_cures_180d"),
    )

    ledger = entries.lazy().filter(pl.col("posted_on") <= day)
    is_payment = pl.col("kind") == "payment"
    paid = -pl.col("amount_minor")
    ledger_features = ledger.group_by("account_id").agg(
        pl.col("amount_minor").sum().alias("balance_minor"),
        pl.col("amount_minor").filter(pl.col("posted_on") <= d90).sum().alias("_balance_90d_ago"),
        (is_payment & (pl.col("posted_on") > d90)).sum().alias("payments_90d"),
        paid.filter(is_payment & (pl.col("posted_on") > d90)).sum().alias("paid_90d_minor"),
        paid.filter(is_payment & (pl.col("posted_on") > d180)).sum().alias("paid_180d_minor"),
        pl.col("posted_on").filter(is_payment).max().alias("_last_payment_on"),
        # regularity: in how many of the last six 30-day periods a payment arrived
        _days(day, pl.col("posted_on"))
        .filter(is_payment & (pl.col("posted_on") > d180))
        .floordiv(30)
        .n_unique()
        .alias("payment_months_180d"),
    )
    gaps = (
        ledger.filter(is_payment & (pl.col("posted_on") > d360))
        .select("account_id", "posted_on")
        .unique()
        .sort("account_id", "posted_on")
        .with_columns(
            _days(pl.col("posted_on"), pl.col("posted_on").shift(1)).over("account_id").alias("_gap")
        )
        .group_by("account_id")
        .agg(
            # coefficient of variation of the days between payments: 0 = clockwork, large = erratic;
            # needs at least two gaps to mean anything
            pl.when(pl.col("_gap").count() >= 2)
            .then(pl.col("_gap").std() / pl.col("_gap").mean())
            .otherwise(None)
            .alias("payment_gap_cv_360d")
        )
    )

    made = promises.lazy().filter(pl.col("made_on") <= day)
    recent = pl.col("made_on") > d180
    due = pl.col("due_on") <= day
    promise_features = made.group_by("account_id").agg(
        recent.sum().alias("promises_made_180d"),
        (recent & due & (pl.col("status") == "kept")).sum().alias("promises_kept_180d"),
        (recent & due & (pl.col("status") == "broken")).sum().alias("promises_broken_180d"),
        ((pl.col("status") == "pending") & (pl.col("due_on") >= day)).any().alias("has_open_promise"),
    )

    attempts = contacts.lazy().filter(pl.col("attempted_at").dt.convert_time_zone("UTC").dt.date() <= day)
    attempted_on = pl.col("attempted_at").dt.convert_time_zone("UTC").dt.date()
    in_90 = attempted_on > d90
    is_rpc = pl.col("outcome").is_in(sorted(RIGHT_PARTY_OUTCOMES))
    contact_features = attempts.group_by("account_id").agg(
        in_90.sum().alias("contact_attempts_90d"),
        (in_90 & is_rpc).sum().alias("rpc_90d"),
        (in_90 & (pl.col("outcome") == "refused")).sum().alias("refusals_90d"),
        attempted_on.filter(is_rpc).max().alias("_last_rpc_on"),
    )

    counts = [
        "bucket_rolls_180d",
        "bucket_cures_180d",
        "payments_90d",
        "paid_90d_minor",
        "paid_180d_minor",
        "payment_months_180d",
        "promises_made_180d",
        "promises_kept_180d",
        "promises_broken_180d",
        "contact_attempts_90d",
        "rpc_90d",
        "refusals_90d",
    ]
    joined = (
        base.join(snap_features, on="account_id", how="left")
        .join(ledger_features, on="account_id", how="left")
        .join(gaps, on="account_id", how="left")
        .join(promise_features, on="account_id", how="left")
        .join(contact_features, on="account_id", how="left")
        .with_columns(
            *[pl.col(c).fill_null(0).cast(pl.Int64) for c in counts],
            pl.col("balance_minor").fill_null(0).cast(pl.Int64),
            pl.col("has_open_promise").fill_null(False),
        )
        .with_columns(
            pl.when(pl.col("_balance_90d_ago") > 0)
            .then(pl.col("balance_minor") / pl.col("_balance_90d_ago"))
            .otherwise(None)
            .alias("balance_ratio_90d"),
            _days(day, pl.col("_last_payment_on")).alias("days_since_last_payment"),
            _days(day, pl.col("_last_rpc_on")).alias("days_since_last_rpc"),
            pl.when(pl.col("promises_kept_180d") + pl.col("promises_broken_180d") > 0)
            .then(
                pl.col("promises_kept_180d") / (pl.col("promises_kept_180d") + pl.col("promises_broken_180d"))
            )
            .otherwise(None)
            .alias("promise_kept_rate_180d"),
            pl.when(pl.col("contact_attempts_90d") > 0)
            .then(pl.col("rpc_90d") / pl.col("contact_attempts_90d"))
            .otherwise(None)
            .alias("rpc_rate_90d"),
        )
        .select("account_id", *FEATURE_COLUMNS)
        .sort("account_id")
    )
    return joined.collect()
