"""Repeated stratified cross-validation of the scoring models on any tabular data.

Every model is fitted inside each training fold (binning, regression, trees, early stopping and
calibration alike), so nothing about a test fold leaks into its predictions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.errors import ValidationError
from arrears.scoring.data import feature_kinds, prepare_target
from arrears.scoring.features import check_allowed
from arrears.scoring.gbm import GBMConfig, fit_gbm
from arrears.scoring.metrics import ReliabilityBin, auc, brier, ks, reliability_table
from arrears.scoring.scorecard import ScorecardConfig, fit_scorecard

__all__ = ["CVResult", "FoldScore", "ModelKind", "ModelSummary", "cross_validate"]


class ModelKind(StrEnum):
    """The model families arrears trains."""

    SCORECARD = "scorecard"
    GBM = "gbm"


@dataclass(frozen=True, slots=True)
class FoldScore:
    """Metrics of one model on one test fold."""

    repeat: int
    fold: int
    auc: float
    ks: float
    gini: float
    brier: float


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values))


def _sd(values: Sequence[float]) -> float:
    # sample standard deviation across folds; zero when there is a single fold score
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class ModelSummary:
    """All fold scores of one model, their means and spreads, and a pooled reliability table."""

    folds: tuple[FoldScore, ...]
    reliability: tuple[ReliabilityBin, ...] = field(default=())

    def _values(self, name: str) -> list[float]:
        return [float(getattr(f, name)) for f in self.folds]

    @property
    def auc_mean(self) -> float:
        """Mean AUC over folds."""
        return _mean(self._values("auc"))

    @property
    def auc_sd(self) -> float:
        """Standard deviation of AUC over folds."""
        return _sd(self._values("auc"))

    @property
    def ks_mean(self) -> float:
        """Mean KS over folds."""
        return _mean(self._values("ks"))

    @property
    def ks_sd(self) -> float:
        """Standard deviation of KS over folds."""
        return _sd(self._values("ks"))

    @property
    def gini_mean(self) -> float:
        """Mean Gini over folds."""
        return _mean(self._values("gini"))

    @property
    def gini_sd(self) -> float:
        """Standard deviation of Gini over folds."""
        return _sd(self._values("gini"))

    @property
    def brier_mean(self) -> float:
        """Mean Brier score over folds."""
        return _mean(self._values("brier"))

    @property
    def brier_sd(self) -> float:
        """Standard deviation of the Brier score over folds."""
        return _sd(self._values("brier"))

    def summary(self) -> dict[str, float]:
        """The figures ``arrears score cv --json`` prints for a model."""
        return {
            "auc_mean": self.auc_mean,
            "auc_sd": self.auc_sd,
            "ks_mean": self.ks_mean,
            "gini_mean": self.gini_mean,
            "brier_mean": self.brier_mean,
        }


@dataclass(frozen=True)
class CVResult:
    """Cross-validation results per model."""

    models: dict[str, ModelSummary]
    rows: int
    event_rate: float
    features: tuple[str, ...]
    folds: int
    repeats: int
    seed: int

    def to_json(self) -> dict[str, Any]:
        """``{"models": {name: {"auc_mean", "auc_sd", "ks_mean", "gini_mean", "brier_mean"}}}``."""
        return {"models": {name: summary.summary() for name, summary in self.models.items()}}


def _parse_models(models: str | Sequence[str]) -> list[ModelKind]:
    names = [models] if isinstance(models, str) else list(models)
    if names == ["all"]:
        return list(ModelKind)
    out: list[ModelKind] = []
    for name in names:
        try:
            kind = ModelKind(name)
        except ValueError:
            raise ValidationError(
                f"unknown model {name!r}; use scorecard, gbm or all", model=str(name)
            ) from None
        if kind not in out:
            out.append(kind)
    if not out:
        raise ValidationError("no model given; use scorecard, gbm or all")
    return out


def _predict(
    kind: ModelKind,
    train: pl.DataFrame,
    y_train: npt.NDArray[np.int8],
    test: pl.DataFrame,
    features: list[str],
    seed: int,
    scorecard_config: ScorecardConfig | None,
    gbm_config: GBMConfig | None,
) -> npt.NDArray[np.float64]:
    if kind is ModelKind.SCORECARD:
        card = fit_scorecard(train, y_train, features=features, config=scorecard_config)
        return card.predict_proba(test)
    # a different LightGBM seed per split, so that repeats also vary the bagging
    cfg = dataclasses.replace(gbm_config or GBMConfig(), seed=seed)
    return fit_gbm(train, y_train, features=features, config=cfg).predict_proba(test)


def cross_validate(
    frame: pl.DataFrame,
    *,
    target: str,
    positive: str | None = None,
    models: str | Sequence[str] = "all",
    folds: int = 5,
    repeats: int = 5,
    seed: int = 42,
    drop: Sequence[str] = (),
    deny: Sequence[str] | None = None,
    scorecard_config: ScorecardConfig | None = None,
    gbm_config: GBMConfig | None = None,
) -> CVResult:
    """Repeated stratified k-fold cross-validation of each model on ``frame``.

    ``target`` is the outcome column and ``positive`` the value that marks the event (default 1 or
    true for 0/1 and boolean targets). Every other column, except those in ``drop``, is a feature:
    string and boolean columns categorical, numeric columns numeric. ``deny`` lists protected
    attributes (names or name tokens) that must not be features; ``None`` checks nothing, which
    suits public benchmark files, while platform training always checks
    (see :func:`arrears.scoring.features.check_allowed`).
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    kinds = _parse_models(models)
    if folds < 2:
        raise ValidationError("--folds must be at least 2", folds=folds)
    if repeats < 1:
        raise ValidationError("--repeats must be at least 1", repeats=repeats)
    unknown = [d for d in drop if d not in frame.columns]
    if unknown:
        raise ValidationError(f"cannot drop unknown columns: {', '.join(unknown)}", columns=unknown)
    if target in drop:
        raise ValidationError("the target column cannot be dropped", target=target)
    y = prepare_target(frame, target, positive)
    features = [c for c in frame.columns if c != target and c not in drop]
    if not features:
        raise ValidationError("no feature columns left besides the target")
    if deny is not None:
        check_allowed(features, deny=deny)
    feature_kinds(frame, features)
    minority = int(min(y.sum(), y.size - y.sum()))
    if minority < folds:
        raise ValidationError(
            f"the rarer class has {minority} rows, fewer than the {folds} folds",
            minority=minority,
            folds=folds,
        )
    data = frame.select(features)
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    scores: dict[ModelKind, list[FoldScore]] = {k: [] for k in kinds}
    pooled: dict[ModelKind, tuple[list[np.ndarray], list[np.ndarray]]] = {k: ([], []) for k in kinds}
    for split_no, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(y.size), y)):
        repeat, fold = divmod(split_no, folds)
        train, test = data[train_idx], data[test_idx]
        y_train, y_test = y[train_idx], y[test_idx]
        for kind in kinds:
            p = _predict(kind, train, y_train, test, features, seed + split_no, scorecard_config, gbm_config)
            a = auc(y_test, p)
            scores[kind].append(
                FoldScore(
                    repeat=repeat, fold=fold, auc=a, ks=ks(y_test, p), gini=2 * a - 1, brier=brier(y_test, p)
                )
            )
            pooled[kind][0].append(y_test)
            pooled[kind][1].append(p)
    summaries = {
        k.value: ModelSummary(
            folds=tuple(scores[k]),
            reliability=tuple(reliability_table(np.concatenate(pooled[k][0]), np.concatenate(pooled[k][1]))),
        )
        for k in kinds
    }
    return CVResult(
        models=summaries,
        rows=frame.height,
        event_rate=float(y.mean()) if y.size else math.nan,
        features=tuple(features),
        folds=folds,
        repeats=repeats,
        seed=seed,
    )
