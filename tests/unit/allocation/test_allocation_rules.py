"""Queue order, assignment methods and agency placement eligibility."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.allocation.rules import AssignmentMethod, assign_work, order_queue, placement_refusals


def _queue() -> pl.DataFrame:
    return order_queue(
        pl.DataFrame(
            {
                "account_id": [1, 2, 3, 4],
                "balance_minor": [100_000, 50_000, 100_000, 10_000],
                "pay_probability": ["0.10", "0.30", "0.10", "0.90"],
                "urgency": [1, 0, 5, 0],
            }
        )
    )


def test_queue_by_expected_recovery_then_urgency() -> None:
    q = _queue()
    assert q.select("account_id", "expected_recovery_minor").rows() == [
        (2, 15000),
        (3, 10000),
        (1, 10000),
        (4, 9000),
    ]


def _collectors(capacity: list[int], open_items: list[int], score: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"collector_id": [10, 20, 30], "capacity": capacity, "open_items": open_items, "score": score}
    )


def test_round_robin_balanced_and_score() -> None:
    q = _queue()
    rr = assign_work(q, _collectors([2, 2, 2], [0, 0, 0], [1, 2, 3]), method=AssignmentMethod.ROUND_ROBIN)
    assert rr.get_column("collector_id").to_list() == [10, 20, 30, 10]
    bal = assign_work(q, _collectors([5, 5, 5], [3, 0, 1], [1, 2, 3]), method=AssignmentMethod.BALANCED)
    assert bal.get_column("collector_id").to_list() == [20, 20, 30, 20]
    sc = assign_work(q, _collectors([1, 2, 1], [0, 0, 0], [5, 9, 1]), method=AssignmentMethod.SCORE)
    assert sc.get_column("collector_id").to_list() == [20, 20, 10, 30]


def test_capacity_limits_and_rest_unassigned() -> None:
    out = assign_work(
        _queue(), _collectors([1, 0, 1], [0, 0, 0], [0, 0, 0]), method=AssignmentMethod.ROUND_ROBIN
    )
    assert out.get_column("collector_id").to_list() == [10, 30, None, None]


@given(
    st.lists(st.integers(min_value=0, max_value=5), min_size=3, max_size=3),
    st.integers(min_value=0, max_value=20),
    st.sampled_from(list(AssignmentMethod)),
)
@settings(max_examples=80, deadline=None)
def test_never_over_capacity_and_fills_what_fits(
    capacity: list[int], items: int, method: AssignmentMethod
) -> None:
    queue = pl.DataFrame({"account_id": list(range(items))}, schema={"account_id": pl.Int64})
    out = assign_work(queue, _collectors(capacity, [0, 0, 0], [3, 2, 1]), method=method)
    counts = dict(out.group_by("collector_id").len().drop_nulls().iter_rows())
    assert all(counts.get(c, 0) <= cap for c, cap in zip([10, 20, 30], capacity, strict=True))
    assert sum(counts.values()) == min(items, sum(capacity))


def test_placement_refusals() -> None:
    on = dt.date(2026, 6, 20)
    assert (
        placement_refusals(
            compliance_evaluated_on=dt.date(2025, 6, 20), dpa_signed_on=dt.date(2024, 1, 1), on=on
        )
        == []
    )
    stale = placement_refusals(
        compliance_evaluated_on=dt.date(2025, 6, 19), dpa_signed_on=dt.date(2024, 1, 1), on=on
    )
    assert [r.code for r in stale] == ["evaluation_stale"]
    both = placement_refusals(compliance_evaluated_on=None, dpa_signed_on=None, on=on)
    assert [r.code for r in both] == ["evaluation_stale", "no_dpa"]
