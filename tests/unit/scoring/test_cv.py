from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from arrears.errors import ValidationError
from arrears.scoring.cv import CVResult, ModelKind, cross_validate
from arrears.scoring.gbm import GBMConfig

FAST = GBMConfig(learning_rate=0.15, max_trees=100, early_stopping_rounds=15, inner_folds=3, threads=1)


@pytest.fixture(scope="module")
def small(book) -> pl.DataFrame:
    return book.head(600)


@pytest.fixture(scope="module")
def result(small) -> CVResult:
    return cross_validate(
        small,
        target="defaulted",
        positive="yes",
        folds=3,
        repeats=2,
        seed=42,
        drop=["account_id"],
        gbm_config=FAST,
    )


def test_every_fold_of_every_repeat_is_scored(result):
    assert set(result.models) == {"scorecard", "gbm"}
    for summary in result.models.values():
        assert [(f.repeat, f.fold) for f in summary.folds] == [(r, k) for r in range(2) for k in range(3)]
    assert result.features == ("utilisation", "dpd", "product", "noise")


def test_summary_is_mean_and_sample_sd_of_fold_scores(result):
    s = result.models["scorecard"]
    aucs = [f.auc for f in s.folds]
    assert s.auc_mean == pytest.approx(np.mean(aucs))
    assert s.auc_sd == pytest.approx(np.std(aucs, ddof=1))
    assert s.gini_mean == pytest.approx(2 * s.auc_mean - 1)
    assert s.auc_mean > 0.7


def test_json_shape_is_exactly_the_documented_one(result):
    doc = result.to_json()
    assert list(doc) == ["models"]
    for figures in doc["models"].values():
        assert list(figures) == ["auc_mean", "auc_sd", "ks_mean", "gini_mean", "brier_mean"]
        assert all(isinstance(v, float) for v in figures.values())


def test_reliability_table_pools_every_out_of_fold_prediction(result, small):
    rows = result.models["gbm"].reliability
    assert sum(r.count for r in rows) == small.height * 2


def test_same_seed_same_figures_and_another_seed_other_splits(small):
    a = cross_validate(
        small, target="defaulted", positive="yes", models="scorecard", folds=3, repeats=1, seed=1
    )
    b = cross_validate(
        small, target="defaulted", positive="yes", models="scorecard", folds=3, repeats=1, seed=1
    )
    c = cross_validate(
        small, target="defaulted", positive="yes", models="scorecard", folds=3, repeats=1, seed=2
    )
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()
    assert list(a.models) == [ModelKind.SCORECARD.value]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "nope"}, "unknown target column"),
        ({"target": "product"}, "exactly two classes"),
        ({"target": "defaulted"}, "--positive"),
        ({"target": "defaulted", "positive": "maybe"}, "not a value"),
        ({"target": "defaulted", "positive": "yes", "models": "forest"}, "unknown model"),
        ({"target": "defaulted", "positive": "yes", "folds": 1}, "at least 2"),
        ({"target": "defaulted", "positive": "yes", "repeats": 0}, "at least 1"),
        ({"target": "defaulted", "positive": "yes", "drop": ["ghost"]}, "unknown columns"),
        ({"target": "defaulted", "positive": "yes", "drop": ["defaulted"]}, "cannot be dropped"),
        ({"target": "defaulted", "positive": "yes", "deny": ["product"]}, "protected attributes"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message(small, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        cross_validate(small, **kwargs)


def test_too_few_events_for_the_folds_is_refused(small):
    tiny = small.with_columns(pl.lit("no").alias("defaulted")).with_columns(
        pl.when(pl.int_range(pl.len()) < 2)
        .then(pl.lit("yes"))
        .otherwise(pl.col("defaulted"))
        .alias("defaulted")
    )
    with pytest.raises(ValidationError, match="fewer than the 3 folds"):
        cross_validate(tiny, target="defaulted", positive="yes", folds=3, repeats=1)


def test_id_like_column_carries_no_points(small):
    res = cross_validate(small, target="defaulted", positive="yes", models="scorecard", folds=3, repeats=1)
    assert res.models["scorecard"].auc_mean > 0.7


def test_zero_one_target_needs_no_positive(small):
    numeric = small.with_columns((pl.col("defaulted") == "yes").cast(pl.Int64).alias("bad")).drop("defaulted")
    res = cross_validate(numeric, target="bad", models="scorecard", folds=3, repeats=1, drop=["account_id"])
    with_text = cross_validate(
        small, target="defaulted", positive="yes", models="scorecard", folds=3, repeats=1, drop=["account_id"]
    )
    assert res.to_json() == with_text.to_json()
