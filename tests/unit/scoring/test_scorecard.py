from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from arrears.errors import ConfigurationError, ValidationError
from arrears.scoring.data import FeatureKind
from arrears.scoring.metrics import auc
from arrears.scoring.scorecard import FeatureBins, Scorecard, ScorecardConfig, fit_scorecard

FEATURES = ["utilisation", "dpd", "product", "noise"]


@pytest.fixture(scope="module")
def card(book, book_y) -> Scorecard:
    return fit_scorecard(
        book, book_y, features=FEATURES, config=ScorecardConfig(monotonic={"dpd": "ascending"})
    )


def test_points_scale_follows_pdo_and_base_odds():
    cfg = ScorecardConfig(pdo=20, base_odds=50, base_score=600)
    assert cfg.factor == pytest.approx(20 / math.log(2))
    assert cfg.offset == pytest.approx(600 - 20 / math.log(2) * math.log(50))
    card = Scorecard(bins=(), coefficients=(), intercept=0.0, config=cfg)
    # at 600 points the odds against the event are 50:1, at 620 they are 100:1
    assert card.probability_from_score([600.0, 620.0]) == pytest.approx([1 / 51, 1 / 101])


def test_uninformative_feature_carries_least_information(book, book_y, card):
    assert {"utilisation", "dpd", "product"} <= set(card.features)
    strict = fit_scorecard(book, book_y, features=FEATURES, config=ScorecardConfig(min_iv=0.1))
    ivs = {b.name: b.iv for b in card.bins}
    if "noise" in ivs:
        assert ivs["noise"] < min(v for k, v in ivs.items() if k != "noise")
    assert "noise" not in strict.features


def test_scorecard_ranks_out_of_sample(card, fresh_book):
    fresh = fresh_book
    y = (fresh.get_column("defaulted") == "yes").to_numpy()
    assert auc(y, card.predict_proba(fresh)) > 0.72


def test_points_sum_to_score_and_score_gives_probability(card, book):
    pts = card.points(book)
    assert np.allclose(pts.sum(axis=1), card.score(book))
    logit = np.log(card.predict_proba(book) / (1 - card.predict_proba(book)))
    factor, offset = card.config.factor, card.config.offset
    assert np.allclose(card.score(book), offset - factor * logit)


def test_missing_values_get_their_own_riskier_bin(card):
    util = next(b for b in card.bins if b.name == "utilisation")
    assert util.counts[util.n_bins + 1] > 0  # missing bin holds the training rows with no value
    assert util.missing_woe > 0  # synthetic missing utilisation is riskier than average
    table = card.points_table()["utilisation"]
    assert table[util.n_bins + 1] < max(table[: util.n_bins])


def test_requested_monotonic_trend_is_obeyed(card):
    dpd = next(b for b in card.bins if b.name == "dpd")
    assert dpd.n_bins >= 2
    assert list(dpd.woe) == sorted(dpd.woe)  # event rate ascends with DPD


def test_unseen_category_scores_as_average(card, book):
    frame = book.head(3).with_columns(pl.lit("mortgage").alias("product"))
    prod = next(b for b in card.bins if b.name == "product")
    idx = prod.assign(frame.get_column("product").cast(pl.String).to_numpy().astype(object))
    assert idx.tolist() == [prod.n_bins] * 3
    assert prod.woe_of(idx).tolist() == [0.0, 0.0, 0.0]


def test_reason_codes_are_features_furthest_below_their_best_bin(card, book):
    frame = book.head(50)
    reasons = card.reasons(frame, top=2)
    table = card.points_table()
    best = card._best_points()
    pts = card.points(frame)
    for row, got in enumerate(reasons):
        gaps = {f: best[f] - pts[row, j] for j, f in enumerate(card.features)}
        expected = [f for f, g in sorted(gaps.items(), key=lambda kv: -kv[1]) if g > 1e-9][:2]
        assert list(got) == expected
    assert table  # points table is populated


def test_polars_batch_scoring_matches_row_scoring(card, book):
    out = card.score_frame(book, keep=["account_id"], top=3)
    assert out.columns == ["account_id", "score", "probability", "reason_1", "reason_2", "reason_3"]
    assert np.allclose(out.get_column("score").to_numpy(), card.score(book))
    assert np.allclose(out.get_column("probability").to_numpy(), card.predict_proba(book))
    first = [
        tuple(r for r in row if r is not None)
        for row in out.select("reason_1", "reason_2", "reason_3").rows()
    ]
    assert first == card.reasons(book, top=3)


def test_serialisation_round_trip_scores_identically(card, book):
    again = Scorecard.from_dict(card.to_dict())
    assert np.array_equal(again.score(book), card.score(book))


def test_bins_round_trip():
    bins = FeatureBins(
        "x",
        FeatureKind.NUMERIC,
        (1.0, 2.0),
        (),
        (0.1, 0.2, 0.3),
        -0.5,
        0.0,
        (1, 2, 3, 0, 4),
        (0, 1, 1, 0, 2),
        0.2,
    )
    assert FeatureBins.from_dict(bins.to_dict()) == bins
    assert bins.assign(np.array([0.5, 1.0, 1.5, 2.0, np.nan])).tolist() == [0, 1, 1, 2, 4]


def test_bad_settings_and_inputs_are_refused(book, book_y):
    with pytest.raises(ConfigurationError):
        ScorecardConfig(pdo=0)
    with pytest.raises(ConfigurationError):
        ScorecardConfig(monotonic={"dpd": "sideways"})
    with pytest.raises(ConfigurationError, match="code_values"):
        ScorecardConfig(code_values=-1)
    with pytest.raises(ValidationError):
        fit_scorecard(book, book_y[:10], features=FEATURES)
    with pytest.raises(ValidationError):
        fit_scorecard(book, np.zeros(book.height), features=FEATURES)
    with pytest.raises(ValidationError, match="columns missing"):
        fit_scorecard(book, book_y, features=["dpd"]).score(book.drop("dpd"))


def test_status_codes_are_binned_without_an_order_trend():
    # -2 "no bill", -1 "paid in full", 0 "revolving", 1.. months late: risk does not follow the codes'
    # numeric order (revolving is safer than paid in full here), which a trend would flatten.
    rng = np.random.default_rng(11)
    rates = {-2: 0.10, -1: 0.30, 0: 0.10, 1: 0.35, 2: 0.70}
    codes = rng.choice(list(rates), size=6000, p=[0.2, 0.2, 0.3, 0.2, 0.1])
    y = (rng.random(codes.size) < np.vectorize(rates.get)(codes)).astype(np.int8)
    frame = pl.DataFrame({"status": codes.astype(np.int64)})
    coded = fit_scorecard(frame, y, config=ScorecardConfig(derive=False))
    ordered = fit_scorecard(frame, y, config=ScorecardConfig(derive=False, code_values=0))
    bins = coded.bins[0]
    woe = dict(zip([-2, -1, 0, 1, 2], bins.woe_of(bins.assign(np.array([-2, -1, 0, 1, 2.0]))), strict=True))
    assert woe[-1] > woe[-2] and woe[-1] > woe[0]  # the zig-zag is kept
    assert woe[0] < woe[1] < woe[2]
    assert bins.iv > ordered.bins[0].iv
    # a column named in ``monotonic`` keeps the trend it is given
    forced = fit_scorecard(frame, y, config=ScorecardConfig(derive=False, monotonic={"status": "ascending"}))
    assert list(forced.bins[0].woe) == sorted(forced.bins[0].woe)


@pytest.mark.parametrize(
    ("values", "limit", "expected"),
    [
        ([-2, -1, 0, 1, 2, np.nan], 12, True),
        ([0.5, 1, 2], 12, False),  # not whole numbers
        (list(range(13)), 12, False),  # too many values
        (list(range(13)), 13, True),
        ([1, 2, 3], 0, False),  # rule off
        ([np.nan, np.nan], 12, False),
    ],
)
def test_code_columns_are_few_whole_numbers(values, limit, expected):
    from arrears.scoring.scorecard import _is_code

    assert _is_code(np.array(values, dtype=np.float64), limit) is expected
