"""Discrimination and calibration metrics for binary scores.

All functions take the 0/1 outcome (1 = the positive event the model predicts) and the predicted
probability of that event, as NumPy arrays, and work on whole columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from arrears.errors import ValidationError

__all__ = ["ReliabilityBin", "auc", "brier", "gini", "ks", "reliability_table"]

FloatArray = npt.NDArray[np.float64]


def _check(y: npt.ArrayLike, p: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    y_arr = np.asarray(y, dtype=np.float64)
    p_arr = np.asarray(p, dtype=np.float64)
    if y_arr.shape != p_arr.shape or y_arr.ndim != 1:
        raise ValidationError("outcomes and scores must be one-dimensional and of equal length")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise ValidationError("outcomes must be 0 or 1")
    if np.isnan(p_arr).any():
        raise ValidationError("scores contain missing values")
    return y_arr, p_arr


def _average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks, ties sharing the mean of their positions (as in the Mann-Whitney statistic)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    cuts = np.flatnonzero(np.diff(ordered)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [values.size]))
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def auc(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Area under the ROC curve (ties count one half), by the Mann-Whitney rank sum."""
    y_arr, p_arr = _check(y, p)
    n_pos = float(y_arr.sum())
    n_neg = float(y_arr.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        raise ValidationError("AUC needs both outcomes present", positives=int(n_pos), negatives=int(n_neg))
    ranks = _average_ranks(p_arr)
    return float((ranks[y_arr == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def gini(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Gini coefficient (accuracy ratio) = 2·AUC − 1."""
    return 2.0 * auc(y, p) - 1.0


def ks(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Kolmogorov-Smirnov statistic: the largest gap between the score distributions of the two classes.

    Evaluated only between distinct score values, so tied scores never split.
    """
    y_arr, p_arr = _check(y, p)
    n_pos = y_arr.sum()
    n_neg = y_arr.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValidationError("KS needs both outcomes present")
    order = np.argsort(p_arr, kind="mergesort")
    p_sorted = p_arr[order]
    y_sorted = y_arr[order]
    cum_pos = np.cumsum(y_sorted) / n_pos
    cum_neg = np.cumsum(1.0 - y_sorted) / n_neg
    # Only the last position of each run of tied scores is a valid threshold.
    last_of_run = np.append(p_sorted[1:] != p_sorted[:-1], True)
    return float(np.max(np.abs(cum_pos - cum_neg)[last_of_run]))


def brier(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Brier score: mean squared difference between probability and outcome (lower is better)."""
    y_arr, p_arr = _check(y, p)
    return float(np.mean((p_arr - y_arr) ** 2))


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One row of a reliability table: predicted against observed event rate."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float


def reliability_table(y: npt.ArrayLike, p: npt.ArrayLike, *, bins: int = 10) -> list[ReliabilityBin]:
    """Group predictions into ``bins`` equal-count bins and compare mean prediction with the event rate.

    Equal-count bins keep every row backed by data even when probabilities crowd at one end.
    Empty bins (possible when many scores tie) are left out.
    """
    y_arr, p_arr = _check(y, p)
    if bins < 1:
        raise ValidationError("a reliability table needs at least one bin", bins=bins)
    edges = np.unique(np.quantile(p_arr, np.linspace(0.0, 1.0, bins + 1)))
    idx = np.clip(np.searchsorted(edges, p_arr, side="right") - 1, 0, max(len(edges) - 2, 0))
    rows: list[ReliabilityBin] = []
    for b in range(max(len(edges) - 1, 1)):
        mask = idx == b
        if not mask.any():
            continue
        rows.append(
            ReliabilityBin(
                lower=float(edges[b]),
                upper=float(edges[min(b + 1, len(edges) - 1)]),
                count=int(mask.sum()),
                mean_predicted=float(p_arr[mask].mean()),
                observed_rate=float(y_arr[mask].mean()),
            )
        )
    return rows
