from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.errors import ValidationError
from arrears.scoring.monitoring import StabilityBins, matured_performance, population_stability, psi


def test_psi_by_hand_with_bins_fixed_on_the_reference():
    reference = pl.Series("x", [1.0, 1.0, 2.0, 2.0])  # one cut at the median 1.5 → shares 1/2, 1/2
    current = pl.Series("x", [1.0, 2.0, 2.0, 2.0])  # shares 1/4, 3/4
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert psi(reference, current, bins=2) == pytest.approx(expected)


def test_missing_values_are_a_bin_of_their_own():
    bins = StabilityBins.fit(pl.Series("x", [1.0, 2.0, 3.0, 4.0]), bins=2)
    assert bins.counts(pl.Series("x", [1.0, None, float("nan"), 4.0])).tolist() == [1.0, 1.0, 2.0]
    assert psi(pl.Series("x", [1.0, 2.0, 3.0, 4.0]), pl.Series("x", [None, None, 1.0, 2.0]), bins=2) > 0.25


def test_categorical_psi_counts_new_categories_separately():
    bins = StabilityBins.fit(pl.Series("p", ["card", "loan", "card", "loan"]))
    assert bins.counts(pl.Series("p", ["card", "bnpl", None])).tolist() == [1.0, 0.0, 1.0, 1.0]


def test_report_flags_only_drifting_columns_largest_first():
    rng = np.random.default_rng(5)
    reference = pl.DataFrame({"stable": rng.normal(size=5000), "score": rng.normal(600, 50, 5000)})
    current = pl.DataFrame({"stable": rng.normal(size=5000), "score": rng.normal(650, 50, 5000)})
    report = population_stability(reference, current)
    assert [r.column for r in report] == ["score", "stable"]
    assert report[0].is_drifting and report[0].psi > 0.25
    assert not report[1].is_drifting and report[1].psi < 0.02
    with pytest.raises(ValidationError, match="columns missing"):
        population_stability(reference, current, columns=["ghost"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=5, max_size=80),
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80),
)
def test_psi_is_non_negative_and_zero_against_itself(ref, cur):
    reference = pl.Series("x", ref)
    assert psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    assert psi(reference, pl.Series("x", cur)) >= 0.0


def test_matured_performance_uses_only_closed_outcome_windows():
    scored = pl.DataFrame(
        {
            "scored_on": [date(2025, 1, 1)] * 4 + [date(2025, 6, 1)] * 2,
            "outcome": [1, 0, 1, 0, 1, None],
            "probability": [0.9, 0.2, 0.6, 0.7, 0.1, 0.5],
        }
    )
    report = matured_performance(scored, as_of=date(2025, 6, 30), maturity_days=90)
    assert (report.rows, report.events) == (4, 2)
    assert report.auc == 0.75  # pairs: (0.9>0.2) (0.9>0.7) (0.6>0.2) (0.6<0.7)
    assert report.ks == 0.5
    assert report.brier == pytest.approx((0.01 + 0.04 + 0.16 + 0.49) / 4)
    young = matured_performance(scored, as_of=date(2025, 2, 1), maturity_days=90)
    assert young.to_dict() == {"rows": 0, "events": 0, "auc": None, "ks": None, "brier": None}
