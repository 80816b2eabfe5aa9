from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from arrears.errors import ValidationError
from arrears.scoring.metrics import auc, brier, gini, ks, reliability_table


def test_auc_of_a_perfect_and_a_reversed_ranking():
    y = np.array([0, 0, 1, 1])
    assert auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_auc_counts_ties_as_one_half():
    # pairs (pos, neg): (0.5, 0.5) tie = 0.5, (0.5, 0.1) = 1, (0.9, 0.5) = 1, (0.9, 0.1) = 1 → 3.5 / 4
    assert auc([1, 1, 0, 0], [0.5, 0.9, 0.5, 0.1]) == 0.875


def test_gini_is_two_auc_minus_one():
    assert gini([1, 1, 0, 0], [0.5, 0.9, 0.5, 0.1]) == 0.75


def test_ks_by_hand():
    # positives at 0.6, 0.8; negatives at 0.1, 0.7. Threshold after 0.1: neg 1/2, pos 0 → gap 0.5
    assert ks([0, 1, 0, 1], [0.1, 0.6, 0.7, 0.8]) == 0.5


def test_ks_does_not_split_tied_scores():
    # every score equal: no threshold separates anything
    assert ks([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]) == 0.0


def test_brier_by_hand():
    assert brier([1, 0], [0.8, 0.4]) == pytest.approx((0.04 + 0.16) / 2)


def test_single_class_is_refused():
    with pytest.raises(ValidationError):
        auc([1, 1], [0.2, 0.3])


def test_reliability_table_compares_prediction_and_outcome():
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    p = np.array([0.1, 0.1, 0.2, 0.2, 0.8, 0.8, 0.9, 0.9])
    rows = reliability_table(y, p, bins=2)
    assert [r.count for r in rows] == [4, 4]
    assert rows[0].mean_predicted == pytest.approx(0.15)
    assert rows[0].observed_rate == 0.25
    assert rows[1].observed_rate == 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=2, max_size=60).filter(
        lambda rows: 0 < sum(r[0] for r in rows) < len(rows)
    )
)
def test_auc_agrees_with_scikit_learn_and_ks_is_bounded(rows):
    y = np.array([int(r[0]) for r in rows])
    p = np.array([r[1] / 20 for r in rows])
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert 0.0 <= ks(y, p) <= 1.0
    # reversing the scores mirrors the AUC
    assert auc(y, -p) == pytest.approx(1 - auc(y, p))
