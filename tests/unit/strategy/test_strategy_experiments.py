"""Champion/challenger assignment: deterministic, stable, proportional, independent across experiments."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.strategy.dsl import check_strategy
from arrears.strategy.experiments import SLOTS, assign_variants, experiment_key, slots
from arrears.strategy.segment import segment_accounts

TEXT = """\
id: t
templates: [{id: s, channel: sms}]
paths:
  - {id: a, steps: [{day: 0, channel: sms, template: s, tone: reminder}]}
  - {id: b, steps: [{day: 0, channel: sms, template: s, tone: firm}]}
segments:
  - id: early
    when: "dpd between 1 and 30"
    experiment:
      id: exp-1
      variants:
        - {id: champion, percent: 80, path: a}
        - {id: challenger, percent: 15, path: b}
        - {id: control, percent: 5, control: true}
  - id: rest
    when: "true"
    path: b
"""
STRATEGY = check_strategy(TEXT).strategy
assert STRATEGY is not None


def _reference_slot(account_id: int, experiment_id: str) -> int:
    """SplitMix64 written out with Python integers, to check the array version against."""
    mask = (1 << 64) - 1
    z = ((account_id & mask) ^ experiment_key(experiment_id)) & mask
    z = (z + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return z % SLOTS


@given(
    st.lists(st.integers(min_value=0, max_value=2**62), min_size=1, max_size=50),
    st.text(min_size=1, max_size=20),
)
@settings(max_examples=60, deadline=None)
def test_array_hash_matches_reference(ids: list[int], experiment: str) -> None:
    got = slots(np.array(ids, dtype=np.int64), experiment).tolist()
    assert got == [_reference_slot(i, experiment) for i in ids]


def test_proportions_close_to_percentages() -> None:
    n = 200_000
    frame = pl.DataFrame({"account_id": np.arange(1, n + 1), "dpd": [10] * n})
    out = assign_variants(segment_accounts(frame, STRATEGY), STRATEGY)
    shares = dict(out.group_by("variant").len().iter_rows())
    assert abs(shares["champion"] / n - 0.80) < 0.005
    assert abs(shares["challenger"] / n - 0.15) < 0.005
    assert abs(shares["control"] / n - 0.05) < 0.005
    control = out.filter(pl.col("variant") == "control")
    assert control.get_column("is_control").all() and control.get_column("path").is_null().all()


def test_stable_across_days_and_order() -> None:
    frame = pl.DataFrame({"account_id": list(range(1, 2001)), "dpd": [5] * 2000})
    first = assign_variants(segment_accounts(frame, STRATEGY), STRATEGY).select("account_id", "variant")
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=3)
    second = assign_variants(segment_accounts(shuffled, STRATEGY), STRATEGY).select("account_id", "variant")
    assert first.sort("account_id").equals(second.sort("account_id"))


def test_recorded_assignment_wins_over_hash() -> None:
    frame = pl.DataFrame({"account_id": [1, 2, 3], "dpd": [5, 5, 5]})
    plain = assign_variants(segment_accounts(frame, STRATEGY), STRATEGY)
    recorded = pl.DataFrame(
        {"account_id": [1, 2], "experiment_id": ["exp-1", "exp-1"], "variant_id": ["control", "gone"]}
    )
    out = assign_variants(segment_accounts(frame, STRATEGY), STRATEGY, recorded)
    got = dict(out.select("account_id", "variant").iter_rows())
    assert got[1] == "control"
    # A recorded variant that no longer exists falls back to the hash.
    assert got[2] == dict(plain.select("account_id", "variant").iter_rows())[2]
    assert out.filter(pl.col("account_id") == 1).get_column("is_control").item() is True


def test_segment_without_experiment_gets_its_path() -> None:
    frame = pl.DataFrame({"account_id": [7], "dpd": [90]})
    out = assign_variants(segment_accounts(frame, STRATEGY), STRATEGY)
    assert out.select("segment", "experiment", "variant", "path", "is_control").row(0) == (
        "rest",
        None,
        None,
        "b",
        False,
    )


def test_experiments_are_independent() -> None:
    ids = np.arange(1, 100_001)
    a, b = slots(ids, "exp-1") < 5000, slots(ids, "exp-2") < 5000
    # Half of each half: independent hashes, not the same split twice.
    assert abs((a & b).mean() - 0.25) < 0.01
