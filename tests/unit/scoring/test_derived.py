"""Derived features: family summaries and amount shares, chosen on training rows, recomputed when scoring."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from arrears.errors import ValidationError
from arrears.scoring.data import (
    DerivedFeature,
    FeatureKind,
    amount_columns,
    derive_features,
    feature_kinds,
)
from arrears.scoring.gbm import GBMConfig, GBMModel, fit_gbm
from arrears.scoring.metrics import auc
from arrears.scoring.scorecard import Scorecard, ScorecardConfig, fit_scorecard


def panel(n: int, seed: int) -> tuple[pl.DataFrame, np.ndarray]:
    """Accounts with six months of bills and payments; risk follows the share of the bill paid."""
    rng = np.random.default_rng(seed)
    limit = rng.choice([1000.0, 5000.0, 20000.0], n)
    bills = {f"bill_amt{i}": limit * rng.uniform(0, 1, n) for i in range(1, 7)}
    paid_share = rng.uniform(0, 1, n)
    pays = {
        f"pay_amt{i}": bills[f"bill_amt{i}"] * np.clip(paid_share + rng.normal(0, 0.1, n), 0, 1)
        for i in range(1, 7)
    }
    logit = -1.0 - 3.0 * paid_share + 1.5 * bills["bill_amt1"] / limit
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    frame = pl.DataFrame(
        {"limit_bal": limit, **bills, **pays, "age_years": rng.integers(20, 70, n).astype(float)}
    )
    return frame, y


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, np.ndarray]:
    return panel(3000, seed=5)


def test_share_is_bounded_and_missing_only_when_both_are_zero():
    frame = pl.DataFrame(
        {"a": [1.0, 0.0, 0.0, 3.0, None, -2.0, math.inf], "b": [3.0, 5.0, 0.0, 0.0, 1.0, 2.0, 1.0]}
    )
    share = DerivedFeature("s", "share", ("a", "b"))
    assert frame.select(share.expr()).get_column("s").to_list() == [0.25, 0.0, None, 1.0, None, -0.5, None]


def test_family_summaries_ignore_missing_values():
    frame = pl.DataFrame({"x1": [1.0, None, None], "x2": [-4.0, 2.0, None], "x3": [3.0, 0.0, None]})
    cols = ("x1", "x2", "x3")
    got = frame.select(
        DerivedFeature(op, op, cols).expr() for op in ("max", "min", "mean", "positive_count", "change")
    )
    assert got.rows() == [
        (3.0, -4.0, 0.0, 2.0, -2.0),
        (2.0, 0.0, 1.0, 1.0, None),
        (None, None, None, None, None),
    ]


def test_malformed_definitions_are_refused():
    with pytest.raises(ValidationError):
        DerivedFeature("s", "share", ("a",))
    with pytest.raises(ValidationError):
        DerivedFeature("s", "product", ("a", "b"))
    assert DerivedFeature.from_dict(DerivedFeature("m", "max", ("a", "b", "c")).to_dict()) == DerivedFeature(
        "m", "max", ("a", "b", "c")
    )


def test_money_columns_are_found_by_name():
    frame = pl.DataFrame(
        {
            "LIMIT_BAL": [1.0],
            "BILL_AMT1": [1.0],
            "paid_90d_minor": [1],
            "balance_ratio_90d": [1.0],
            "payments_90d": [1],
            "days_since_last_payment": [1],
            "credit.amount": [1],
            "product_amount": ["x"],
        }
    )
    kinds = feature_kinds(frame)
    assert amount_columns(frame.columns, kinds) == [
        "LIMIT_BAL",
        "BILL_AMT1",
        "paid_90d_minor",
        "credit.amount",
    ]


def test_families_need_three_numbered_columns_and_skip_one_hot_blocks(data):
    frame, y = data
    extra = frame.with_columns(
        pl.lit(1).alias("edu_1"),
        pl.lit(0).alias("edu_2"),
        pl.lit(0).alias("edu_3"),
        pl.lit(2.0).alias("rate1"),
    )
    derived = derive_features(extra, y, extra.columns, feature_kinds(extra), max_shares=0)
    assert [d.name for d in derived] == [
        f"{op}__{stem}"
        for stem in ("bill_amt", "pay_amt")
        for op in ("max", "min", "mean", "positive_count", "change")
    ]
    assert derived[0].columns == tuple(f"bill_amt{i}" for i in range(1, 7))


def test_shares_are_the_most_informative_pairs_and_spread_over_columns(data):
    frame, y = data
    derived = derive_features(frame, y, frame.columns, feature_kinds(frame), max_shares=4)
    shares = [d for d in derived if d.op == "share"]
    assert len(shares) == 4
    # the signal is the share of each bill paid: a bill with its own month's payment comes first
    first = shares[0].columns
    assert {c.rstrip("0123456789") for c in first} == {"bill_amt", "pay_amt"} and first[0][-1] == first[1][-1]
    used = [c for d in shares for c in d.columns]
    assert max(used.count(c) for c in used) <= 2
    # same rows, same choice
    assert derive_features(frame, y, frame.columns, feature_kinds(frame), max_shares=4) == derived


def test_no_amounts_and_no_families_derive_nothing(book, book_y):
    names = ["utilisation", "dpd", "product", "noise"]
    assert derive_features(book, book_y, names, feature_kinds(book, names)) == ()


def test_scorecard_with_derived_features_scores_from_inputs_alone(data):
    frame, y = data
    card = fit_scorecard(frame[:2000], y[:2000])
    derived = {d.name for d in card.derived}
    assert derived and derived <= set(card.point_features)
    assert set(card.features) <= set(frame.columns)
    plain = fit_scorecard(frame[:2000], y[:2000], config=ScorecardConfig(derive=False))
    assert plain.derived == () and plain.features == plain.point_features
    test, y_test = frame[2000:].select(card.features), y[2000:]
    assert auc(y_test, card.predict_proba(test)) > auc(y_test, plain.predict_proba(frame[2000:]))
    batch = card.score_frame(test, top=2)
    assert np.allclose(batch.get_column("score").to_numpy(), card.score(test))
    assert [tuple(r) for r in batch.select("reason_1", "reason_2").rows()] == [
        tuple(x) for x in card.reasons(test, top=2)
    ]
    explained = card.with_derived(test)
    assert set(card.point_features) <= set(explained.columns)
    again = Scorecard.from_dict(card.to_dict())
    assert again == card
    assert np.array_equal(again.score(test), card.score(test))


def test_gbm_with_derived_features_scores_from_inputs_alone(data):
    frame, y = data
    model = fit_gbm(frame[:2000], y[:2000], config=GBMConfig(threads=1, max_shares=3))
    assert model.features == tuple(frame.columns)
    assert len(model.derived) == 10 + 3
    assert model.model_features[-1] == model.derived[-1].name
    test = frame[2000:]
    assert model.contributions(test).shape == (1000, len(frame.columns) + 13)
    assert set(model.model_features) <= set(model.with_derived(test).columns)
    again = GBMModel.from_dict(model.to_dict())
    assert again.derived == model.derived
    assert np.array_equal(again.predict_proba(test), model.predict_proba(test))
    plain = fit_gbm(frame[:2000], y[:2000], config=GBMConfig(threads=1, derive=False))
    assert plain.derived == () and plain.model_features == plain.features
    assert "derived" not in plain.to_dict()


def test_stored_models_without_derived_features_still_load(data):
    frame, y = data
    card = fit_scorecard(frame[:500], y[:500], config=ScorecardConfig(derive=False))
    doc = card.to_dict()
    for key in ("derive", "max_shares", "amount_columns"):
        del doc["config"][key]
    assert Scorecard.from_dict(doc).derived == ()
    assert FeatureKind.NUMERIC.value == "numeric"
