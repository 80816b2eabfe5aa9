"""Skill-matched assignment: eligibility, capacity and completeness for every method."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.allocation.rules import AssignmentMethod, assign_matched, order_queue

LANGS = ["zh", "en", "es"]


def test_skills_exclusion_and_per_kind_round_robin() -> None:
    collectors = pl.DataFrame(
        {
            "collector_id": [1, 2, 3],
            "capacity": [5, 5, 5],
            "open_items": [0, 0, 0],
            "score": [0, 0, 0],
            "languages": [["zh"], ["en"], []],
            "buckets": [["M1"], [], ["M2"]],
        }
    )
    queue = order_queue(
        pl.DataFrame(
            {
                "account_id": [1, 2, 3, 4, 5],
                "balance_minor": [500, 400, 300, 200, 100],
                "pay_probability": ["1"] * 5,
                "urgency": [0] * 5,
                "language": ["zh", "zh", "en", "es", "zh"],
                "bucket": ["M1", "M2", None, "M3", "M1"],
                "exclude_collector_id": [None, None, 2, None, 1],
            }
        )
    )
    out = assign_matched(queue, collectors, method=AssignmentMethod.ROUND_ROBIN)
    # 1: zh/M1 → 1 or 3? 3 covers only M2, so 1. 2: zh/M2 → only 3. 3: en, 2 excluded → 3.
    # 4: es/M3 → nobody. 5: zh/M1 with 1 excluded → nobody (3 lacks M1).
    assert out.get_column("collector_id").to_list() == [1, 3, 3, None, None]


@st.composite
def _case(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    n_collectors = draw(st.integers(min_value=1, max_value=5))
    collectors = pl.DataFrame(
        {
            "collector_id": list(range(1, n_collectors + 1)),
            "capacity": draw(st.lists(st.integers(0, 4), min_size=n_collectors, max_size=n_collectors)),
            "open_items": draw(st.lists(st.integers(0, 3), min_size=n_collectors, max_size=n_collectors)),
            "score": draw(st.lists(st.integers(0, 9), min_size=n_collectors, max_size=n_collectors)),
            "languages": draw(
                st.lists(
                    st.lists(st.sampled_from(LANGS), max_size=2), min_size=n_collectors, max_size=n_collectors
                )
            ),
        },
        schema_overrides={"languages": pl.List(pl.String)},
    )
    items = draw(st.integers(min_value=0, max_value=25))
    queue = pl.DataFrame(
        {
            "account_id": list(range(items)),
            "language": draw(st.lists(st.sampled_from([*LANGS, None]), min_size=items, max_size=items)),
        },
        schema={"account_id": pl.Int64, "language": pl.String},
    )
    return queue, collectors


@given(_case(), st.sampled_from(list(AssignmentMethod)))
@settings(max_examples=150, deadline=None)
def test_eligible_within_capacity_and_nothing_left_that_fits(
    case: tuple[pl.DataFrame, pl.DataFrame], method: AssignmentMethod
) -> None:
    queue, collectors = case
    out = assign_matched(queue, collectors, method=method)
    skills = {c: set(langs) for c, langs in collectors.select("collector_id", "languages").iter_rows()}
    capacity = dict(collectors.select("collector_id", "capacity").iter_rows())
    counts = dict(out.group_by("collector_id").len().drop_nulls().iter_rows())
    assert all(counts.get(c, 0) <= capacity[c] for c in capacity)

    def fits(collector: int, language: str | None) -> bool:
        return not skills[collector] or language is None or language in skills[collector]

    for language, collector in out.select("language", "collector_id").iter_rows():
        if collector is not None:
            assert fits(collector, language)
        else:
            # Greedy and complete: an unassigned item has no eligible collector with room left.
            assert all(counts.get(c, 0) >= capacity[c] for c in capacity if fits(c, language))
