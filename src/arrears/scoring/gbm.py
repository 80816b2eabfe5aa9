"""Gradient boosting with LightGBM: native categorical splits, early stopping, Platt calibration.

The defaults favour robustness across credit portfolios over the last point of AUC on any one file:
shallow trees with many rows per leaf, row and column subsampling, L2 shrinkage of leaf values, and
the number of trees chosen by early stopping on a stratified held-out slice of the training data.
Trees are invariant to monotone transforms, so skewed counts and outliers need no treatment;
missing values go down whichever branch the data prefers (LightGBM's default).

The same held-out slice that stops the boosting also fits the calibrator, so probabilities are
calibrated on rows the trees never saw.

With ``derive`` (the default) the trees also get the derived features of
:func:`arrears.scoring.data.derive_features` (summaries of numbered column families, shares of
amount columns), chosen on the training rows and recomputed from the input columns when scoring.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.errors import ConfigurationError, ValidationError
from arrears.scoring.calibration import Calibration, Calibrator, fit_calibrator
from arrears.scoring.data import (
    DerivedFeature,
    FeatureKind,
    add_derived_features,
    feature_kinds,
)
from arrears.scoring.reasons import reason_frame, top_reasons

__all__ = ["GBMConfig", "GBMModel", "fit_gbm"]


@dataclass(frozen=True, slots=True)
class GBMConfig:
    """Settings of a LightGBM fit (see the module docstring for why these defaults)."""

    learning_rate: float = 0.02
    num_leaves: int = 15
    max_depth: int = -1
    min_child_samples: int = 20
    min_child_share: float = 0.005
    # Capacity follows the data: below ``small_book_rows`` training rows trees stay small (8 leaves,
    # depth 4, leaves of at least 1 % of the rows), where deeper trees only learn the noise of a few
    # hundred defaults.
    small_book_rows: int = 10_000
    small_book_leaves: int = 8
    small_book_depth: int = 4
    small_book_child_share: float = 0.01
    feature_fraction: float = 0.6
    bagging_fraction: float = 0.8
    lambda_l2: float = 5.0
    max_bin: int = 127
    cat_smooth: float = 20.0
    min_data_per_group: int = 50
    max_trees: int = 3000
    early_stopping_rounds: int = 150
    inner_folds: int = 5
    calibration: str = Calibration.PLATT.value
    seed: int = 42
    threads: int = 0
    derive: bool = True
    max_shares: int = 10
    amount_columns: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.amount_columns is not None and not isinstance(self.amount_columns, tuple):
            object.__setattr__(self, "amount_columns", tuple(self.amount_columns))
        if self.inner_folds < 2:
            raise ConfigurationError("inner_folds must be at least 2", inner_folds=self.inner_folds)
        if self.calibration not in {c.value for c in Calibration}:
            raise ConfigurationError(
                f"unknown calibration {self.calibration!r}", calibration=self.calibration
            )

    @classmethod
    def for_batch(cls, **changes: Any) -> GBMConfig:
        """Settings for a model that scores the whole book every day: fewer, deeper trees.

        Prediction time grows with the number of trees, so the daily cycle's model learns faster
        (0.1) with trees of up to 16 leaves and at most 150 of them, still early-stopped on the inner
        folds. On the synthetic book of benchmarks/bench_scoring_batch.py this costs about 0.001–0.002
        AUC against the default settings and scores roughly three times faster (docs/scoring.md).
        """
        batch: dict[str, Any] = {
            "learning_rate": 0.1,
            "num_leaves": 16,
            "max_depth": 5,
            "max_trees": 150,
            "early_stopping_rounds": 40,
        }
        return cls(**(batch | changes))

    def lightgbm_params(self, n_rows: int) -> dict[str, Any]:
        """LightGBM's parameter dictionary for a training set of ``n_rows``."""
        # Leaves need at least 0.5 % of the rows (1 % below ``small_book_rows``, and never fewer
        # than ``min_child_samples``): small books get smooth trees, big books can still find narrow
        # segments.
        small = n_rows < self.small_book_rows
        share = self.small_book_child_share if small else self.min_child_share
        min_leaf = max(self.min_child_samples, int(share * n_rows))
        leaves = min(self.num_leaves, self.small_book_leaves) if small else self.num_leaves
        depth = self.max_depth
        if small and (depth < 1 or depth > self.small_book_depth):
            depth = self.small_book_depth
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": leaves,
            "max_depth": depth,
            "min_data_in_leaf": min_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "max_bin": self.max_bin,
            "cat_smooth": self.cat_smooth,
            "min_data_per_group": self.min_data_per_group,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": self.threads,
            "verbosity": -1,
        }


def _matrix(
    frame: pl.DataFrame,
    features: Sequence[str],
    kinds: Mapping[str, FeatureKind],
    categories: Mapping[str, list[str]],
) -> npt.NDArray[np.float64]:
    if not features:
        return np.zeros((frame.height, 0))
    exprs = []
    for name in features:
        if kinds[name] is FeatureKind.NUMERIC:
            value = pl.col(name).cast(pl.Float64)
            # missing and non-finite values are NaN, which LightGBM routes as missing
            exprs.append(pl.when(value.is_finite()).then(value).otherwise(None).alias(name))
        else:
            # categories are coded by their position in the training list; unseen and missing → NaN
            exprs.append(
                pl.col(name)
                .cast(pl.String)
                .replace_strict(
                    categories[name],
                    list(range(len(categories[name]))),
                    default=None,
                    return_dtype=pl.Float64,
                )
                .alias(name)
            )
    # one select and one conversion: a column-major float matrix, built in Polars' threads
    matrix = frame.select(exprs).to_numpy(order="c")
    return np.asarray(matrix, dtype=np.float64)


@dataclass(frozen=True)
class GBMModel:
    """A fitted LightGBM model with its feature coding and calibrator.

    ``features`` are the input columns; the trees see them followed by the ``derived`` features
    (:attr:`model_features`), which scoring computes from the inputs.
    """

    model_string: str
    features: tuple[str, ...]
    kinds: Mapping[str, FeatureKind]
    categories: Mapping[str, list[str]]
    calibrator: Calibrator
    config: GBMConfig
    best_iteration: int
    derived: tuple[DerivedFeature, ...] = ()

    @property
    def model_features(self) -> tuple[str, ...]:
        """The trees' columns: input features, then derived ones (the names reason codes use)."""
        return (*self.features, *(d.name for d in self.derived))

    def _booster(self) -> Any:
        cached = self.__dict__.get("_cached_booster")
        if cached is None:
            import lightgbm as lgb

            cached = lgb.Booster(model_str=self.model_string)
            object.__setattr__(self, "_cached_booster", cached)
        return cached

    def with_derived(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with the derived features added: every name a reason code can take is a column."""
        return frame.with_columns([d.expr() for d in self.derived]) if self.derived else frame

    def _x(self, frame: pl.DataFrame) -> npt.NDArray[np.float64]:
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ValidationError(f"columns missing for scoring: {', '.join(missing)}", missing=missing)
        if self.derived:
            frame = frame.select([*self.features, *(d.expr() for d in self.derived)])
            kinds = {**self.kinds, **{d.name: FeatureKind.NUMERIC for d in self.derived}}
            return _matrix(frame, self.model_features, kinds, self.categories)
        return _matrix(frame, self.features, self.kinds, self.categories)

    def raw_probability(self, frame: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Uncalibrated probability of the event."""
        return np.asarray(
            self._booster().predict(self._x(frame), num_threads=self.config.threads), dtype=np.float64
        )

    def predict_proba(self, frame: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Calibrated probability of the event."""
        return self.calibrator.apply(self.raw_probability(frame))

    def contributions(self, frame: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Per-feature contributions to the log-odds of the event (rows × features, bias dropped)."""
        contrib = self._booster().predict(self._x(frame), pred_contrib=True, num_threads=self.config.threads)
        return np.asarray(contrib, dtype=np.float64)[:, : len(self.model_features)]

    def reasons(self, frame: pl.DataFrame, *, top: int = 4) -> list[tuple[str, ...]]:
        """Per account, the features that raised the log-odds of the event the most."""
        return top_reasons(self.contributions(frame), self.model_features, top=top)

    def score_frame(
        self, frame: pl.DataFrame, *, keep: Sequence[str] = (), top: int = 4, reasons: bool = True
    ) -> pl.DataFrame:
        """Batch scoring: ``keep`` columns, ``probability`` and, with ``reasons``, ``reason_1..reason_<top>``.

        Per-feature contributions (TreeSHAP) cost far more than the prediction itself; the daily
        cycle scores the whole book with ``reasons=False`` and explains the accounts a decision is
        taken on (or a debtor asks about) with :meth:`reasons`.
        """
        x = self._x(frame)
        booster = self._booster()
        raw = booster.predict(x, num_threads=self.config.threads)
        out = pl.DataFrame(
            [*frame.select(keep).get_columns(), pl.Series("probability", self.calibrator.apply(raw))]
        )
        if not reasons:
            return out
        contrib = np.asarray(booster.predict(x, pred_contrib=True, num_threads=self.config.threads))
        names = self.model_features
        explained = reason_frame(contrib[:, : len(names)], names, top=top)
        return pl.concat([out, explained], how="horizontal")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: LightGBM's own text model plus the category coding (no pickled code)."""
        config = asdict(self.config)
        if config["amount_columns"] is not None:
            config["amount_columns"] = list(config["amount_columns"])
        out: dict[str, Any] = {
            "model_string": self.model_string,
            "features": list(self.features),
            "kinds": {k: v.value for k, v in self.kinds.items()},
            "categories": {k: list(v) for k, v in self.categories.items()},
            "calibrator": self.calibrator.to_dict(),
            "config": config,
            "best_iteration": self.best_iteration,
        }
        if self.derived:
            out["derived"] = [d.to_dict() for d in self.derived]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GBMModel:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                model_string=str(data["model_string"]),
                features=tuple(data["features"]),
                kinds={k: FeatureKind(v) for k, v in data["kinds"].items()},
                categories={k: [str(c) for c in v] for k, v in data["categories"].items()},
                calibrator=Calibrator.from_dict(data["calibrator"]),
                config=GBMConfig(**data["config"]),
                best_iteration=int(data["best_iteration"]),
                derived=tuple(DerivedFeature.from_dict(d) for d in data.get("derived", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError("stored gradient-boosting model is malformed", detail=str(exc)) from None


def _stratified_folds(
    y: npt.NDArray[np.int8], k: int, seed: int
) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    rng = np.random.default_rng(seed)
    fold_of = np.empty(y.size, dtype=np.int64)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        fold_of[idx] = np.arange(idx.size) % k
    everything = np.arange(y.size)
    return [(everything[fold_of != f], everything[fold_of == f]) for f in range(k)]


def fit_gbm(
    frame: pl.DataFrame,
    y: npt.ArrayLike,
    *,
    features: Sequence[str] | None = None,
    config: GBMConfig | None = None,
) -> GBMModel:
    """Train LightGBM on all rows with the number of trees chosen, and the calibrator fitted, by inner CV.

    An inner stratified k-fold run on the training rows early-stops the boosting on the mean held-out
    log-loss; its out-of-fold predictions at that number of trees fit the calibrator; the final model
    is then trained on every row with that number of trees.
    """
    import lightgbm as lgb

    cfg = config or GBMConfig()
    outcome = np.asarray(y, dtype=np.int8)
    if outcome.shape != (frame.height,):
        raise ValidationError("one outcome per row is needed", rows=frame.height, outcomes=int(outcome.size))
    if np.bincount(outcome, minlength=2).min() < cfg.inner_folds:
        raise ValidationError(
            f"gradient boosting needs at least {cfg.inner_folds} rows of each outcome", rows=frame.height
        )
    inputs = list(features) if features is not None else list(frame.columns)
    names = list(inputs)
    kinds = feature_kinds(frame, names)
    derived: tuple[DerivedFeature, ...] = ()
    if cfg.derive:
        frame, names, kinds, derived = add_derived_features(
            frame, outcome, names, kinds, max_shares=cfg.max_shares, amounts=cfg.amount_columns
        )
    categories = {
        n: sorted(frame.get_column(n).cast(pl.String).drop_nulls().unique().to_list())
        for n, k in kinds.items()
        if k is FeatureKind.CATEGORICAL
    }
    x = _matrix(frame, names, kinds, categories)
    cat_idx = [i for i, n in enumerate(names) if kinds[n] is FeatureKind.CATEGORICAL]
    folds = _stratified_folds(outcome, cfg.inner_folds, cfg.seed)
    params = cfg.lightgbm_params(len(folds[0][0]))
    with warnings.catch_warnings():
        # LightGBM warns about categorical features passed alongside a reference dataset; harmless
        warnings.simplefilter("ignore")
        data = lgb.Dataset(x, outcome, feature_name=names, categorical_feature=cat_idx, free_raw_data=False)
        history: dict[str, Any] = lgb.cv(
            {**params, "metric": "binary_logloss"},
            data,
            num_boost_round=cfg.max_trees,
            folds=folds,
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
            return_cvbooster=True,
        )
        best = len(history["valid binary_logloss-mean"])
        oof = np.empty(outcome.size, dtype=np.float64)
        for booster, (_, test_idx) in zip(history["cvbooster"].boosters, folds, strict=True):
            oof[test_idx] = booster.predict(x[test_idx], num_iteration=best)
        final = lgb.train(
            params,
            lgb.Dataset(x, outcome, feature_name=names, categorical_feature=cat_idx),
            num_boost_round=best,
        )
    calibrator = fit_calibrator(outcome, oof, cfg.calibration)
    return GBMModel(
        model_string=final.model_to_string(),
        features=tuple(inputs),
        kinds={n: kinds[n] for n in inputs},
        categories=categories,
        calibrator=calibrator,
        config=cfg,
        best_iteration=best,
        derived=derived,
    )
