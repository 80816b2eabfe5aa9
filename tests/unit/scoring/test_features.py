from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from arrears.errors import ValidationError
from arrears.scoring.features import FEATURE_COLUMNS, build_features, check_allowed, denied_features

AS_OF = date(2025, 6, 30)


def _frames() -> dict[str, pl.DataFrame]:
    accounts = pl.DataFrame(
        {
            "account_id": ["A", "B"],
            "product": ["card", "loan"],
            "opened_on": [date(2024, 6, 30), date(2025, 6, 1)],
        }
    )
    entries = pl.DataFrame(
        {
            "account_id": ["A", "A", "A", "A", "A", "A"],
            "posted_on": [
                date(2025, 1, 1),  # charge 100 000
                date(2025, 3, 1),  # payment 10 000 (before the 90-day window)
                date(2025, 4, 30),  # payment 10 000
                date(2025, 5, 30),  # payment 20 000
                date(2025, 6, 29),  # payment 10 000
                date(2025, 7, 5),  # after as_of: ignored
            ],
            "kind": ["charge", "payment", "payment", "payment", "payment", "payment"],
            "amount_minor": [100_000, -10_000, -10_000, -20_000, -10_000, -99_999],
        }
    )
    contacts = pl.DataFrame(
        {
            "account_id": ["A", "A", "A", "A"],
            "attempted_at": [
                datetime(2025, 5, 1, 9, tzinfo=UTC),
                datetime(2025, 6, 1, 9, tzinfo=UTC),
                datetime(2025, 6, 20, 9, tzinfo=UTC),
                datetime(2025, 7, 1, 9, tzinfo=UTC),  # after as_of
            ],
            "channel": ["call", "call", "sms", "call"],
            "outcome": ["no_answer", "right_party", "refused", "right_party"],
        }
    )
    promises = pl.DataFrame(
        {
            "account_id": ["A", "A", "A"],
            "made_on": [date(2025, 4, 1), date(2025, 5, 1), date(2025, 6, 25)],
            "due_on": [date(2025, 4, 30), date(2025, 5, 15), date(2025, 7, 10)],
            "amount_minor": [10_000, 10_000, 10_000],
            "status": ["kept", "broken", "pending"],
        }
    )
    snapshots = pl.DataFrame(
        {
            "account_id": ["A", "A", "A", "A"],
            "snapshot_on": [date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31), date(2025, 6, 30)],
            "dpd": [10, 40, 70, 35],
            "balance_minor": [90_000, 80_000, 60_000, 50_000],
        }
    )
    return {
        "accounts": accounts,
        "entries": entries,
        "contacts": contacts,
        "promises": promises,
        "snapshots": snapshots,
    }


def test_features_of_an_account_with_history():
    out = build_features(**_frames(), as_of=AS_OF)
    assert out.columns == ["account_id", *FEATURE_COLUMNS]
    a = out.row(0, named=True)
    assert a["account_id"] == "A"
    assert a["product"] == "card"
    assert a["days_on_book"] == 365
    assert (a["dpd"], a["bucket"], a["dpd_max_90d"], a["dpd_max_180d"]) == (35, 2, 70, 70)
    assert a["share_30plus_180d"] == 0.75
    assert (a["bucket_rolls_180d"], a["bucket_cures_180d"]) == (2, 1)  # 1→2→3 then 3→2
    assert a["balance_minor"] == 50_000
    # 90 days before 30 June is 1 April: balance then was 100 000 − 10 000
    assert a["balance_ratio_90d"] == pytest.approx(50_000 / 90_000)
    assert (a["payments_90d"], a["paid_90d_minor"], a["paid_180d_minor"]) == (3, 40_000, 50_000)
    assert a["days_since_last_payment"] == 1
    # payments 1, 31, 61 and 121 days ago fall in 30-day periods 0, 1, 2 and 4
    assert a["payment_months_180d"] == 4
    # gaps 60, 30, 30 days: sd 17.32 / mean 40
    assert a["payment_gap_cv_360d"] == pytest.approx(17.320508 / 40, rel=1e-6)
    assert (a["promises_made_180d"], a["promises_kept_180d"], a["promises_broken_180d"]) == (3, 1, 1)
    assert a["promise_kept_rate_180d"] == 0.5
    assert a["has_open_promise"] is True
    assert (a["contact_attempts_90d"], a["rpc_90d"], a["refusals_90d"]) == (3, 2, 1)
    assert a["rpc_rate_90d"] == pytest.approx(2 / 3)
    assert a["days_since_last_rpc"] == 10


def test_account_without_history_gets_zero_counts_and_null_rates():
    b = build_features(**_frames(), as_of=AS_OF).row(1, named=True)
    assert b["days_on_book"] == 29
    assert b["payments_90d"] == 0 and b["rpc_90d"] == 0 and b["balance_minor"] == 0
    assert b["dpd"] is None and b["rpc_rate_90d"] is None and b["days_since_last_payment"] is None
    assert b["has_open_promise"] is False


def test_nothing_after_as_of_leaks_in():
    frames = _frames()
    early = build_features(**frames, as_of=date(2025, 5, 31)).row(0, named=True)
    assert early["dpd"] == 70
    assert early["balance_minor"] == 60_000
    assert early["promises_made_180d"] == 2


def test_missing_column_and_naive_contact_times_are_refused():
    frames = _frames()
    with pytest.raises(ValidationError, match="entries lacks columns: kind"):
        build_features(**{**frames, "entries": frames["entries"].drop("kind")}, as_of=AS_OF)
    naive = frames["contacts"].with_columns(pl.col("attempted_at").dt.replace_time_zone(None))
    with pytest.raises(ValidationError, match="timezone-aware"):
        build_features(**{**frames, "contacts": naive}, as_of=AS_OF)


def test_deny_list_matches_names_and_words_not_substrings():
    cols = [
        "age",
        "AGE_IN_YEARS",
        "Sex",
        "personal_status_and_sex",
        "page_views",
        "usage_ratio",
        "dpd",
        "Marital",
    ]
    assert denied_features(cols) == ["age", "AGE_IN_YEARS", "Sex", "personal_status_and_sex", "Marital"]
    assert denied_features(["region"], deny=["region"]) == ["region"]


def test_platform_features_pass_the_deny_list_and_protected_ones_do_not():
    check_allowed(FEATURE_COLUMNS)
    with pytest.raises(ValidationError, match="protected attributes cannot be model features: gender"):
        check_allowed([*FEATURE_COLUMNS, "gender"])
