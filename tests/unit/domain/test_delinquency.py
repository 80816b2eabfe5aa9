"""Contractual DPD, both bucket schemes at every edge, Metro 2 codes, and the late-fee test (T7)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.allocation import WATERFALLS
from arrears.domain.delinquency import (
    BucketScheme,
    CnBucket,
    Delinquency,
    DueItem,
    UsBucket,
    bucket,
    bucket_expr,
    cn_bucket,
    days_past_due,
    dpd_frame,
    late_fee_due,
    metro2_expr,
    metro2_status,
    us_bucket,
)
from arrears.domain.ledger import Balances, Component, fold, post_payment
from arrears.domain.products import builtin_products
from arrears.errors import ValidationError

JAN = date(2026, 1, 15)
ITEMS = [DueItem(JAN, 10000), DueItem(date(2026, 2, 15), 10000), DueItem(date(2026, 3, 15), 10000)]


def test_nothing_paid_counts_from_the_first_due_date() -> None:
    assert days_past_due(ITEMS, 0, date(2026, 3, 1)) == Delinquency(45, JAN, 20000)


def test_partial_cover_moves_the_oldest_unpaid_date() -> None:
    # 10,000 covers January exactly; February is the oldest unpaid item.
    assert days_past_due(ITEMS, 10000, date(2026, 3, 1)) == Delinquency(14, date(2026, 2, 15), 10000)
    # One fen short of January keeps January as the oldest unpaid.
    assert days_past_due(ITEMS, 9999, date(2026, 3, 1)) == Delinquency(45, JAN, 10001)


def test_due_today_is_zero_dpd_and_not_overdue() -> None:
    assert days_past_due(ITEMS, 0, JAN) == Delinquency(0, JAN, 0)
    assert days_past_due(ITEMS, 0, JAN + timedelta(days=1)) == Delinquency(1, JAN, 10000)


def test_future_unpaid_item_is_not_past_due_and_all_covered_is_none() -> None:
    assert days_past_due(ITEMS, 10000, date(2026, 2, 1)) == Delinquency(0, date(2026, 2, 15), 0)
    assert days_past_due(ITEMS, 30000, date(2026, 6, 1)) == Delinquency(0, None, 0)
    assert days_past_due([], 0, JAN) == Delinquency(0, None, 0)


def test_items_are_taken_in_due_order_whatever_the_input_order() -> None:
    assert days_past_due(list(reversed(ITEMS)), 10000, date(2026, 3, 1)) == Delinquency(
        14, date(2026, 2, 15), 10000
    )


# -- buckets ----------------------------------------------------------------------------------------------

CN_EDGES = [
    (0, "M0"),
    (1, "M1"),
    (29, "M1"),
    (30, "M1"),
    (31, "M2"),
    (59, "M2"),
    (60, "M2"),
    (61, "M3"),
    (90, "M3"),
    (91, "M4"),
    (120, "M4"),
    (121, "M5"),
    (150, "M5"),
    (151, "M6"),
    (180, "M6"),
    (181, "M7+"),
    (3650, "M7+"),
]
US_EDGES = [
    (0, "current", "11"),
    (1, "1-29", "11"),
    (29, "1-29", "11"),
    (30, "30", "71"),
    (31, "30", "71"),
    (59, "30", "71"),
    (60, "60", "78"),
    (61, "60", "78"),
    (89, "60", "78"),
    (90, "90", "80"),
    (119, "90", "80"),
    (120, "120", "82"),
    (149, "120", "82"),
    (150, "150", "83"),
    (179, "150", "83"),
    (180, "180+", "84"),
    (181, "180+", "84"),
]


@pytest.mark.parametrize(("dpd", "label"), CN_EDGES)
def test_cn_bucket_edges(dpd: int, label: str) -> None:
    assert cn_bucket(dpd) == CnBucket(label)
    assert bucket(dpd, "cn") == label


@pytest.mark.parametrize(("dpd", "label", "code"), US_EDGES)
def test_us_bucket_and_metro2_edges(dpd: int, label: str, code: str) -> None:
    assert us_bucket(dpd) == UsBucket(label)
    assert bucket(dpd, BucketScheme.US) == label
    assert metro2_status(dpd) == code
    assert metro2_status(dpd, charged_off=True) == "97"


def test_bucket_expressions_match_the_scalar_functions_at_every_edge() -> None:
    values: list[int | None] = [*(d for d, _ in CN_EDGES), *(d for d, _, _ in US_EDGES), None, -1]
    df = pl.DataFrame({"dpd": values})
    out = df.select(
        "dpd",
        bucket_expr("dpd", "cn").alias("cn"),
        bucket_expr(pl.col("dpd"), "us").alias("us"),
        metro2_expr("dpd").alias("metro2"),
        metro2_expr("dpd", pl.col("dpd") > 170).alias("metro2_co"),
    )
    for dpd, cn, us, code, code_co in out.rows():
        if dpd is None or dpd < 0:
            assert (cn, us, code) == (None, None, None)
            continue
        assert cn == cn_bucket(dpd)
        assert us == us_bucket(dpd)
        assert code == metro2_status(dpd)
        assert code_co == metro2_status(dpd, charged_off=dpd > 170)
    assert out.schema["cn"] == pl.Enum([b.value for b in CnBucket])


def test_negative_dpd_is_refused() -> None:
    with pytest.raises(ValidationError):
        cn_bucket(-1)
    with pytest.raises(ValidationError):
        metro2_status(-5)


# -- vectorised DPD -------------------------------------------------------------------------------------

item_st = st.tuples(st.integers(0, 400), st.integers(0, 50000))


@settings(max_examples=60, deadline=None)
@given(
    accounts=st.lists(
        st.tuples(st.lists(item_st, min_size=1, max_size=8), st.integers(0, 200000), st.booleans()),
        min_size=1,
        max_size=12,
    ),
    as_of_offset=st.integers(0, 450),
)
def test_dpd_frame_equals_days_past_due(
    accounts: list[tuple[list[tuple[int, int]], int, bool]], as_of_offset: int
) -> None:
    base = date(2025, 1, 1)
    as_of = base + timedelta(days=as_of_offset)
    rows = [
        (a, base + timedelta(days=d), amt) for a, (items, _, _) in enumerate(accounts) for d, amt in items
    ]
    items_df = pl.DataFrame(
        rows, schema={"account_id": pl.Int64, "due_on": pl.Date, "amount_minor": pl.Int64}, orient="row"
    )
    # Accounts flagged False are left out of the covered frame: they have covered nothing.
    covered_df = pl.DataFrame(
        [(a, c) for a, (_, c, present) in enumerate(accounts) if present],
        schema={"account_id": pl.Int64, "covered_minor": pl.Int64},
        orient="row",
    )
    out = dpd_frame(items_df, covered_df, as_of)
    assert out.columns == ["account_id", "dpd", "oldest_unpaid_due_on", "overdue_minor"]
    assert out["account_id"].to_list() == list(range(len(accounts)))
    for a, (items, covered, present) in enumerate(accounts):
        expected = days_past_due(
            [DueItem(base + timedelta(days=d), amt) for d, amt in items], covered if present else 0, as_of
        )
        assert out.row(a) == (a, expected.dpd, expected.oldest_unpaid_due_on, expected.overdue_minor)


@settings(max_examples=100, deadline=None)
@given(items=st.lists(item_st, max_size=8), covered=st.integers(0, 200000), as_of_offset=st.integers(0, 450))
def test_dpd_is_positive_exactly_when_something_is_overdue(
    items: list[tuple[int, int]], covered: int, as_of_offset: int
) -> None:
    base = date(2025, 1, 1)
    result = days_past_due(
        [DueItem(base + timedelta(days=d), a) for d, a in items], covered, base + timedelta(days=as_of_offset)
    )
    assert (result.dpd > 0) == (result.overdue_minor > 0)


def test_dpd_frame_names_missing_columns() -> None:
    with pytest.raises(ValidationError, match="lacks columns"):
        dpd_frame(
            pl.DataFrame({"account_id": [1]}), pl.DataFrame({"account_id": [1], "covered_minor": [0]}), JAN
        )


# -- late fees (16 CFR 444.4) ---------------------------------------------------------------------------


def test_t7_pyramiding_no_new_late_fee_whatever_the_waterfall() -> None:
    product = builtin_products()["us-installment"]
    due_on = date(2026, 4, 1)
    owed = Balances({Component.FEE: 1000, Component.INTEREST: 2000, Component.PRINCIPAL: 8000})
    for name in WATERFALLS:
        posting = post_payment(
            balances=owed, payment_minor=10000, waterfall=name, effective_on=due_on, key="pay-4"
        )
        left = owed + fold(posting.entries)
        # Fee-first orders leave 10.00 of the instalment unpaid in the ledger ...
        if name in ("us-installment", "us-card", "cn-bank-contract"):
            assert left[Component.PRINCIPAL] + left[Component.INTEREST] == 1000
        # ... yet the payment was full and on time, so no late fee may be assessed.
        decision = late_fee_due(
            product=product,
            due_on=due_on,
            scheduled_minor=10000,
            received_by_grace_end_minor=10000,
            as_of=due_on + timedelta(days=30),
        )
        assert (decision.is_due, decision.amount_minor, decision.reason) == (False, 0, "paid-in-full")


def test_late_fee_after_grace_on_a_real_shortfall_once_per_instalment() -> None:
    product = builtin_products()["us-installment"]
    due_on = date(2026, 4, 1)
    common = {
        "product": product,
        "due_on": due_on,
        "scheduled_minor": 10000,
        "received_by_grace_end_minor": 9000,
    }
    assert late_fee_due(**common, as_of=due_on + timedelta(days=10)).reason == "in-grace"  # type: ignore[arg-type]
    due = late_fee_due(**common, as_of=due_on + timedelta(days=11))  # type: ignore[arg-type]
    assert (due.is_due, due.amount_minor, due.reason) == (True, 1500, "shortfall")
    again = late_fee_due(**common, as_of=due_on + timedelta(days=40), fees_already_assessed=1)  # type: ignore[arg-type]
    assert (again.is_due, again.reason) == (False, "limit-reached")
    behind = late_fee_due(
        product=product,
        due_on=due_on,
        scheduled_minor=10000,
        received_by_grace_end_minor=10000,
        earlier_unpaid_scheduled_minor=10000,
        as_of=due_on + timedelta(days=11),
    )
    assert behind.is_due
    none = late_fee_due(
        product=builtin_products()["cn-consumer-loan"],
        due_on=due_on,
        scheduled_minor=10000,
        received_by_grace_end_minor=0,
        as_of=due_on + timedelta(days=30),
    )
    assert (none.is_due, none.reason) == (False, "no-late-fee")
