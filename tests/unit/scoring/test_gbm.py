from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from arrears.errors import ConfigurationError, ValidationError
from arrears.scoring.calibration import Calibration
from arrears.scoring.gbm import GBMConfig, GBMModel, fit_gbm
from arrears.scoring.metrics import auc

FEATURES = ["utilisation", "dpd", "product", "noise"]
FAST = GBMConfig(learning_rate=0.1, max_trees=200, early_stopping_rounds=20, inner_folds=3, threads=1)


@pytest.fixture(scope="module")
def model(book, book_y) -> GBMModel:
    return fit_gbm(book, book_y, features=FEATURES, config=FAST)


def test_gbm_ranks_out_of_sample(model, fresh_book):
    y = (fresh_book.get_column("defaulted") == "yes").to_numpy()
    assert auc(y, model.predict_proba(fresh_book)) > 0.72


def test_early_stopping_chose_fewer_trees_than_the_cap(model):
    assert 1 <= model.best_iteration < FAST.max_trees


def test_product_is_a_native_categorical_split(model):
    assert model.categories["product"] == ["bnpl", "card", "loan"]
    assert "categorical_feature=2" in model.model_string or "cat_boundaries" in model.model_string


def test_contributions_add_up_to_the_raw_log_odds(model, book):
    import lightgbm as lgb

    booster = lgb.Booster(model_str=model.model_string)
    x = book.head(100)
    raw = model.raw_probability(x)
    contrib = booster.predict(model._x(x), pred_contrib=True)
    assert np.allclose(contrib.sum(axis=1), np.log(raw / (1 - raw)))
    assert model.contributions(x).shape == (100, len(FEATURES))


def test_reason_codes_are_the_largest_positive_contributions(model, book):
    x = book.head(30)
    contrib = model.contributions(x)
    for row, reasons in enumerate(model.reasons(x, top=2)):
        order = [FEATURES[j] for j in np.argsort(-contrib[row], kind="stable") if contrib[row, j] > 1e-9][:2]
        assert list(reasons) == order


def test_unseen_category_and_missing_values_still_score(model, book):
    odd = book.head(5).with_columns(
        pl.lit("mortgage").alias("product"), pl.lit(None, pl.Float64).alias("dpd")
    )
    p = model.predict_proba(odd)
    assert p.shape == (5,)
    assert np.all((p > 0) & (p < 1))


def test_batch_frame_matches_direct_calls(model, book):
    out = model.score_frame(book.head(200), keep=["account_id"], top=2)
    assert out.columns == ["account_id", "probability", "reason_1", "reason_2"]
    assert np.allclose(out.get_column("probability").to_numpy(), model.predict_proba(book.head(200)))


def test_round_trip_through_json_ready_dict(model, book):
    again = GBMModel.from_dict(model.to_dict())
    assert np.array_equal(again.predict_proba(book), model.predict_proba(book))


def test_platt_calibration_is_the_default_and_isotonic_available(book, book_y, model):
    assert model.calibrator.method is Calibration.PLATT
    iso = fit_gbm(book, book_y, features=FEATURES, config=dataclasses.replace(FAST, calibration="isotonic"))
    assert iso.calibrator.method is Calibration.ISOTONIC


def test_bad_config_and_inputs_are_refused(book, book_y):
    with pytest.raises(ConfigurationError):
        GBMConfig(inner_folds=1)
    with pytest.raises(ConfigurationError):
        GBMConfig(calibration="magic")
    with pytest.raises(ValidationError):
        fit_gbm(book, book_y[:5], features=FEATURES, config=FAST)
    with pytest.raises(ValidationError, match="columns missing"):
        fit_gbm(book, book_y, features=["dpd"], config=FAST).predict_proba(book.drop("dpd"))


def test_batch_without_reasons_gives_the_same_probabilities(model, book):
    lean = model.score_frame(book, keep=["account_id"], reasons=False)
    assert lean.columns == ["account_id", "probability"]
    assert np.array_equal(lean.get_column("probability").to_numpy(), model.predict_proba(book))


def test_feature_matrix_codes_missing_infinite_and_unseen_as_nan():
    from arrears.scoring.data import FeatureKind
    from arrears.scoring.gbm import _matrix

    frame = pl.DataFrame(
        {
            "x": [1.5, None, float("inf"), -2.0],
            "n": [3, 4, None, 5],
            "kind": ["b", "a", "zz", None],
            "flag": [True, False, None, True],
        }
    )
    kinds = {"x": FeatureKind.NUMERIC, "n": FeatureKind.NUMERIC, "kind": FeatureKind.CATEGORICAL,
             "flag": FeatureKind.CATEGORICAL}  # fmt: skip
    x = _matrix(frame, ["x", "n", "kind", "flag"], kinds, {"kind": ["a", "b"], "flag": ["false", "true"]})
    nan = np.nan
    expected = np.array([[1.5, 3, 1, 1], [nan, 4, 0, 0], [nan, nan, nan, nan], [-2.0, 5, nan, 1]])
    np.testing.assert_array_equal(x, expected)
    assert x.dtype == np.float64 and x.flags["C_CONTIGUOUS"]


def test_batch_settings_are_fewer_deeper_trees():
    batch = GBMConfig.for_batch(threads=1)
    default = GBMConfig()
    assert (batch.learning_rate, batch.num_leaves, batch.max_depth, batch.max_trees) == (0.1, 16, 5, 150)
    assert batch.learning_rate > default.learning_rate and batch.max_trees < default.max_trees
    assert batch.threads == 1 and batch.lambda_l2 == default.lambda_l2


def test_batch_model_stays_within_its_tree_cap_and_ranks(book, book_y, fresh_book):
    fitted = fit_gbm(book, book_y, features=FEATURES, config=GBMConfig.for_batch(threads=1, inner_folds=3))
    y = (fresh_book.get_column("defaulted") == "yes").to_numpy()
    assert 1 <= fitted.best_iteration <= 150
    assert auc(y, fitted.predict_proba(fresh_book)) > 0.72
