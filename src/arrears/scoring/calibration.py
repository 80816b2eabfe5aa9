"""Probability calibration: Platt scaling and isotonic regression, stored as plain numbers.

A calibrator is fitted on predictions the model did not train on (a held-out part of the training
fold), so that cross-validated Brier scores and reliability tables are honest.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from arrears.errors import ConfigurationError, ValidationError

__all__ = ["Calibration", "Calibrator", "fit_calibrator"]

_EPS = 1e-6


class Calibration(StrEnum):
    """How raw model scores become probabilities."""

    NONE = "none"
    PLATT = "platt"
    ISOTONIC = "isotonic"


def _logit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    q = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(q / (1.0 - q))


@dataclass(frozen=True, slots=True)
class Calibrator:
    """A fitted monotone map from raw probability to calibrated probability.

    ``platt``: ``sigmoid(a · logit(p) + b)`` with ``params = [a, b]``.
    ``isotonic``: piecewise-linear interpolation through ``(x, y)`` knots.
    ``none``: the identity.
    """

    method: Calibration
    params: tuple[float, ...] = ()
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def apply(self, p: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated probabilities for raw probabilities ``p``."""
        raw = np.asarray(p, dtype=np.float64)
        if self.method is Calibration.PLATT:
            a, b = self.params
            return np.asarray(1.0 / (1.0 + np.exp(-(a * _logit(raw) + b))), dtype=np.float64)
        if self.method is Calibration.ISOTONIC:
            return np.asarray(np.interp(raw, self.x, self.y), dtype=np.float64)
        return raw

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "method": self.method.value,
            "params": list(self.params),
            "x": list(self.x),
            "y": list(self.y),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Inverse of :meth:`to_dict`."""
        try:
            method = Calibration(data["method"])
            return cls(
                method=method,
                params=tuple(float(v) for v in data.get("params", ())),
                x=tuple(float(v) for v in data.get("x", ())),
                y=tuple(float(v) for v in data.get("y", ())),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigurationError("stored calibrator is malformed", detail=str(exc)) from None


def fit_calibrator(y: npt.ArrayLike, p: npt.ArrayLike, method: Calibration | str) -> Calibrator:
    """Fit a calibrator of ``method`` on held-out outcomes ``y`` (0/1) and raw probabilities ``p``."""
    try:
        kind = Calibration(method)
    except ValueError:
        raise ValidationError(
            f"unknown calibration {method!r}; use one of {', '.join(c.value for c in Calibration)}",
            calibration=str(method),
        ) from None
    y_arr = np.asarray(y, dtype=np.float64)
    p_arr = np.asarray(p, dtype=np.float64)
    if kind is Calibration.NONE:
        return Calibrator(method=kind)
    if np.unique(y_arr).size < 2:
        raise ValidationError("calibration needs both outcomes in the calibration sample")
    if kind is Calibration.PLATT:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1e6, max_iter=1000)
        model.fit(_logit(p_arr).reshape(-1, 1), y_arr.astype(np.int64))
        return Calibrator(method=kind, params=(float(model.coef_[0, 0]), float(model.intercept_[0])))
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(p_arr, y_arr)
    return Calibrator(
        method=kind,
        x=tuple(float(v) for v in iso.X_thresholds_),
        y=tuple(float(v) for v in iso.y_thresholds_),
    )
