from __future__ import annotations

import numpy as np
import pytest

from arrears.errors import ValidationError
from arrears.scoring.calibration import Calibration, Calibrator, fit_calibrator
from arrears.scoring.metrics import brier
from arrears.scoring.reasons import reason_frame, top_reasons


def _overconfident(seed: int = 3, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true_p = rng.uniform(0.05, 0.95, n)
    y = (rng.random(n) < true_p).astype(int)
    logit = np.log(true_p / (1 - true_p))
    raw = 1 / (1 + np.exp(-3 * logit))  # three times too confident
    return y, raw


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_lowers_the_brier_score_of_overconfident_scores(method):
    y, raw = _overconfident()
    cal = fit_calibrator(y[:2000], raw[:2000], method)
    assert brier(y[2000:], cal.apply(raw[2000:])) < brier(y[2000:], raw[2000:]) - 0.01


def test_platt_recovers_the_over_confidence_factor():
    y, raw = _overconfident(n=20000)
    cal = fit_calibrator(y, raw, Calibration.PLATT)
    assert cal.params[0] == pytest.approx(1 / 3, abs=0.05)


def test_calibrators_round_trip_and_none_is_identity():
    y, raw = _overconfident()
    for method in Calibration:
        cal = fit_calibrator(y, raw, method)
        assert np.array_equal(Calibrator.from_dict(cal.to_dict()).apply(raw), cal.apply(raw))
    assert np.array_equal(fit_calibrator(y, raw, "none").apply(raw), raw)


def test_unknown_method_and_single_class_are_refused():
    with pytest.raises(ValidationError):
        fit_calibrator([0, 1], [0.2, 0.7], "beta")
    with pytest.raises(ValidationError):
        fit_calibrator([1, 1], [0.2, 0.7], "platt")


def test_top_reasons_orders_by_penalty_and_skips_non_penalties():
    penalties = np.array([[5.0, 0.0, 12.0, -3.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.5, 2.0]])
    got = top_reasons(penalties, ["a", "b", "c", "d"], top=3)
    assert got == [("c", "a"), (), ("d", "a", "b")]


def test_reason_frame_matches_top_reasons():
    rng = np.random.default_rng(1)
    penalties = rng.normal(size=(50, 5))
    names = ["f1", "f2", "f3", "f4", "f5"]
    frame = reason_frame(penalties, names, top=3)
    assert frame.columns == ["reason_1", "reason_2", "reason_3"]
    rows = [tuple(r for r in row if r is not None) for row in frame.rows()]
    assert rows == top_reasons(penalties, names, top=3)


def test_reason_frame_pads_when_fewer_features_than_reasons():
    frame = reason_frame(np.array([[1.0]]), ["only"], top=2)
    assert frame.rows() == [("only", None)]
