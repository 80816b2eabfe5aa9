"""A points scorecard: optimal binning, weight of evidence, logistic regression, PDO scaling.

Each feature is cut into bins by optimal binning (``optbinning``: a constraint-programming search
that maximises information value under a minimum bin size, optionally with a monotonic event rate).
Missing values always form their own bin; categories not seen in training, and a missing bin that
training never saw, get a weight of evidence of zero (the average risk). A logistic regression on
the WoE columns gives the log-odds of the event; points rescale it so that

    score = offset + factor · ln(odds against the event),  factor = PDO / ln 2,
    offset = base_score − factor · ln(base_odds),

i.e. ``base_score`` points at odds of ``base_odds`` to one against the event, and every ``pdo`` more
points doubles those odds. A feature's points sum over bins back to the score exactly.

Reason codes are the features whose points fall furthest below that feature's best bin.

With ``derive`` (the default) the fit also bins derived features chosen on the training rows
(:func:`arrears.scoring.data.derive_features`: summaries of numbered column families and shares of
amount columns); the scorecard keeps their definitions and computes them from the input columns
when it scores, so a derived feature is a bin table like any other.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.errors import ConfigurationError, ValidationError
from arrears.scoring.data import (
    DerivedFeature,
    FeatureKind,
    add_derived_features,
    categorical_values,
    feature_kinds,
    numeric_values,
)
from arrears.scoring.reasons import reason_frame, top_reasons

__all__ = ["FeatureBins", "Scorecard", "ScorecardConfig", "fit_scorecard"]

_TRENDS = ("none", "ascending", "descending", "auto", "auto_asc_desc", "peak", "valley", "convex", "concave")


@dataclass(frozen=True, slots=True)
class ScorecardConfig:
    """Settings of a scorecard fit.

    ``monotonic`` maps a feature to the event-rate trend its bins must follow (``ascending``,
    ``descending``, ``auto_asc_desc`` for either, ...); other features use ``default_trend``
    (``auto``: the binning picks a monotonic or single-peak shape from the data), except that a
    numeric feature holding at most ``code_values`` distinct whole numbers (a status code such as
    months past due with -2/-1/0 for "no bill"/"paid in full"/"revolving", or a small count) is
    binned without a trend: its codes need not rank risk in their numeric order (0 turns the rule off).
    Features with information value below ``min_iv`` are left out of the regression, and so are
    features whose coefficient would come out negative (a sign that contradicts their own WoE).
    ``derive`` adds derived features (family summaries and up to ``max_shares`` amount shares, the
    amounts being ``amount_columns`` or, when ``None``, the columns named as money), chosen on the
    training rows and subject to the same ``min_iv`` and sign checks.
    """

    pdo: float = 20.0
    base_odds: float = 50.0
    base_score: float = 600.0
    min_bin_size: float = 0.05
    max_prebins: int = 20
    prebinning: str = "cart"
    max_bins: int | None = None
    min_iv: float = 0.005
    default_trend: str = "auto"
    monotonic: Mapping[str, str] = field(default_factory=dict)
    code_values: int = 12
    regularisation_c: float = 0.1
    drop_negative: bool = True
    rare_category_share: float = 0.05
    derive: bool = True
    max_shares: int = 10
    amount_columns: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.max_shares < 0:
            raise ConfigurationError("max_shares cannot be negative", max_shares=self.max_shares)
        if self.code_values < 0:
            raise ConfigurationError("code_values cannot be negative", code_values=self.code_values)
        if self.pdo <= 0 or self.base_odds <= 0:
            raise ConfigurationError(
                "pdo and base_odds must be positive", pdo=self.pdo, base_odds=self.base_odds
            )
        if not 0 < self.min_bin_size < 0.5:
            raise ConfigurationError("min_bin_size must lie in (0, 0.5)", min_bin_size=self.min_bin_size)
        for name, trend in {**self.monotonic, "<default>": self.default_trend}.items():
            if trend not in _TRENDS:
                raise ConfigurationError(
                    f"unknown monotonic trend {trend!r} for {name}; use one of {', '.join(_TRENDS)}",
                    feature=name,
                    trend=trend,
                )

    @property
    def factor(self) -> float:
        """Points per unit of log-odds."""
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        """Points at even odds."""
        return self.base_score - self.factor * math.log(self.base_odds)


@dataclass(frozen=True, slots=True)
class FeatureBins:
    """The bins of one feature and their weights of evidence.

    Numeric bins are ``(-inf, s0), [s0, s1), …, [s_last, inf)``; categorical bins are ``groups``.
    ``woe`` holds one value per regular bin; ``missing_woe`` and ``other_woe`` (unseen categories)
    follow. WoE is ``ln(event share / non-event share)``: positive means riskier than average.
    """

    name: str
    kind: FeatureKind
    splits: tuple[float, ...]
    groups: tuple[tuple[str, ...], ...]
    woe: tuple[float, ...]
    missing_woe: float
    other_woe: float
    counts: tuple[int, ...]
    events: tuple[int, ...]
    iv: float

    @property
    def n_bins(self) -> int:
        """Number of regular bins (missing and unseen are extra)."""
        return len(self.woe)

    def assign(self, values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        """Bin index per value: regular bins ``0..n-1``, ``n`` = unseen category, ``n+1`` = missing."""
        n = self.n_bins
        if self.kind is FeatureKind.NUMERIC:
            x = np.asarray(values, dtype=np.float64)
            idx = np.searchsorted(np.asarray(self.splits, dtype=np.float64), x, side="right").astype(np.int64)
            idx[np.isnan(x)] = n + 1
            return idx
        lookup = {cat: i for i, group in enumerate(self.groups) for cat in group}
        out = np.fromiter(
            (n + 1 if v is None else lookup.get(v, n) for v in values), dtype=np.int64, count=len(values)
        )
        return out

    def woe_of(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """WoE per bin index from :meth:`assign`."""
        table = np.asarray([*self.woe, self.other_woe, self.missing_woe], dtype=np.float64)
        return np.asarray(table[idx], dtype=np.float64)

    def labels(self) -> list[str]:
        """Human-readable bin labels (regular bins, then unseen, then missing)."""
        if self.kind is FeatureKind.NUMERIC:
            edges = ["-inf", *(f"{s:.6g}" for s in self.splits), "inf"]
            regular = [f"[{edges[i]}, {edges[i + 1]})" for i in range(len(edges) - 1)]
        else:
            regular = ["{" + ", ".join(g) + "}" for g in self.groups]
        return [*regular, "unseen", "missing"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "splits": list(self.splits),
            "groups": [list(g) for g in self.groups],
            "woe": list(self.woe),
            "missing_woe": self.missing_woe,
            "other_woe": self.other_woe,
            "counts": list(self.counts),
            "events": list(self.events),
            "iv": self.iv,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureBins:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            kind=FeatureKind(data["kind"]),
            splits=tuple(float(s) for s in data["splits"]),
            groups=tuple(tuple(str(c) for c in g) for g in data["groups"]),
            woe=tuple(float(w) for w in data["woe"]),
            missing_woe=float(data["missing_woe"]),
            other_woe=float(data["other_woe"]),
            counts=tuple(int(c) for c in data["counts"]),
            events=tuple(int(e) for e in data["events"]),
            iv=float(data["iv"]),
        )


def _raw_values(frame: pl.DataFrame, name: str, kind: FeatureKind) -> npt.NDArray[Any]:
    series = frame.get_column(name)
    return numeric_values(series) if kind is FeatureKind.NUMERIC else categorical_values(series)


def _is_code(x: npt.NDArray[Any], limit: int) -> bool:
    """Whether the present values of ``x`` are at most ``limit`` distinct whole numbers."""
    if limit < 1:
        return False
    present = x[np.isfinite(x)]
    if present.size == 0 or not np.array_equal(present, np.round(present)):
        return False
    return bool(np.unique(present).size <= limit)


def _find_cuts(
    name: str, kind: FeatureKind, x: npt.NDArray[Any], y: npt.NDArray[np.int8], config: ScorecardConfig
) -> tuple[tuple[float, ...], tuple[tuple[str, ...], ...]]:
    from optbinning import OptimalBinning

    trend = config.monotonic.get(name) or (
        "none" if kind is FeatureKind.NUMERIC and _is_code(x, config.code_values) else config.default_trend
    )
    binning = OptimalBinning(
        name=name,
        dtype="numerical" if kind is FeatureKind.NUMERIC else "categorical",
        solver="cp",
        prebinning_method=config.prebinning,
        max_n_prebins=config.max_prebins,
        max_n_bins=config.max_bins,
        min_bin_size=config.min_bin_size,
        min_prebin_size=config.min_bin_size,
        monotonic_trend=None if trend == "none" else trend,
        cat_cutoff=(
            config.rare_category_share
            if kind is FeatureKind.CATEGORICAL and config.rare_category_share > 0
            else None
        ),
        time_limit=30,
    )
    if kind is FeatureKind.NUMERIC:
        present = x[~np.isnan(x)]
    else:
        present = x[np.fromiter((v is not None for v in x), dtype=bool, count=len(x))]
    if present.size == 0 or np.unique(present).size < 2:
        if kind is FeatureKind.NUMERIC:
            return (), ()
        return (), ((tuple(sorted({str(v) for v in present})),) if present.size else ())
    try:
        with warnings.catch_warnings():
            # optbinning's internal pandas/sklearn usage emits deprecation chatter that is not ours to fix
            warnings.simplefilter("ignore")
            binning.fit(x, y)
    except ValueError:
        # e.g. an id-like column whose every category is rare: nothing to bin, one bin for all
        return (), ()
    if kind is FeatureKind.NUMERIC:
        return tuple(float(s) for s in binning.splits), ()
    groups = tuple(tuple(sorted(str(c) for c in g)) for g in binning.splits)
    return (), groups


def _bins_for(
    name: str, kind: FeatureKind, x: npt.NDArray[Any], y: npt.NDArray[np.int8], config: ScorecardConfig
) -> FeatureBins:
    splits, groups = _find_cuts(name, kind, x, y, config)
    n_regular = len(splits) + 1 if kind is FeatureKind.NUMERIC else max(len(groups), 1)
    if kind is FeatureKind.CATEGORICAL and not groups:
        groups = ((),)
    draft = FeatureBins(name, kind, splits, groups, (0.0,) * n_regular, 0.0, 0.0, (), (), 0.0)
    idx = draft.assign(x)
    size = n_regular + 2
    counts = np.bincount(idx, minlength=size)
    events = np.bincount(idx, weights=y.astype(np.float64), minlength=size)
    total_events = float(y.sum())
    total_non = float(y.size - total_events)
    # +0.5 (Laplace-style) smoothing keeps a bin with no events, or no non-events, finite
    event_share = (events + 0.5) / (total_events + 0.5 * size)
    non_share = (counts - events + 0.5) / (total_non + 0.5 * size)
    woe = np.log(event_share / non_share)
    woe[counts == 0] = 0.0
    iv = float(np.sum(((event_share - non_share) * woe)[counts > 0]))
    return FeatureBins(
        name=name,
        kind=kind,
        splits=splits,
        groups=groups,
        woe=tuple(float(w) for w in woe[:n_regular]),
        other_woe=float(woe[n_regular]),
        missing_woe=float(woe[n_regular + 1]),
        counts=tuple(int(c) for c in counts),
        events=tuple(int(e) for e in events),
        iv=iv,
    )


@dataclass(frozen=True, slots=True)
class Scorecard:
    """A fitted scorecard: bins per feature, regression coefficients and the points scale."""

    bins: tuple[FeatureBins, ...]
    coefficients: tuple[float, ...]
    intercept: float
    config: ScorecardConfig
    derived: tuple[DerivedFeature, ...] = ()

    @property
    def features(self) -> list[str]:
        """Input columns the scorecard reads (those behind the features kept by the regression)."""
        recipes = {d.name: d.columns for d in self.derived}
        return list(dict.fromkeys(c for b in self.bins for c in recipes.get(b.name, (b.name,))))

    @property
    def point_features(self) -> list[str]:
        """Features that carry points, derived ones included: the names reason codes use."""
        return [b.name for b in self.bins]

    def with_derived(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with the derived features added: every name a reason code can take is a column."""
        self._require(frame)
        exprs = [d.expr() for d in self.derived]
        return frame.with_columns(exprs) if exprs else frame

    def points_table(self) -> dict[str, list[float]]:
        """Points per bin for each feature, ordered as :meth:`FeatureBins.labels`."""
        factor = self.config.factor
        share = (self.config.offset - factor * self.intercept) / max(len(self.bins), 1)
        table: dict[str, list[float]] = {}
        for b, coef in zip(self.bins, self.coefficients, strict=True):
            woe = [*b.woe, b.other_woe, b.missing_woe]
            table[b.name] = [share - factor * coef * w for w in woe]
        return table

    def _best_points(self) -> dict[str, float]:
        table = self.points_table()
        best: dict[str, float] = {}
        for b in self.bins:
            pts = table[b.name]
            # a bin that held no training data cannot be "best": missing/unseen fall back to neutral
            observed = [pts[i] for i in range(b.n_bins) if b.counts[i] > 0]
            if b.counts[b.n_bins + 1] > 0:
                observed.append(pts[b.n_bins + 1])
            best[b.name] = max(observed) if observed else max(pts)
        return best

    def points(self, frame: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Points per account and feature (rows × :attr:`point_features`)."""
        frame = self.with_derived(frame)
        table = self.points_table()
        cols = []
        for b in self.bins:
            idx = b.assign(_raw_values(frame, b.name, b.kind))
            cols.append(np.asarray(table[b.name], dtype=np.float64)[idx])
        if not cols:
            return np.zeros((frame.height, 0), dtype=np.float64)
        return np.column_stack(cols)

    def score(self, frame: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Total points per account (higher = less likely to see the event)."""
        pts = self.points(frame)
        if pts.shape[1] == 0:
            return np.full(frame.height, self.config.offset - self.config.factor * self.intercept)
        return np.asarray(pts.sum(axis=1), dtype=np.float64)

    def probability_from_score(self, score: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Probability of the event for a total score."""
        s = np.asarray(score, dtype=np.float64)
        return np.asarray(
            1.0 / (1.0 + np.exp((s - self.config.offset) / self.config.factor)), dtype=np.float64
        )

    def predict_proba(self, frame: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Probability of the event per account."""
        return self.probability_from_score(self.score(frame))

    def reasons(self, frame: pl.DataFrame, *, top: int = 4) -> list[tuple[str, ...]]:
        """Per account, the features whose points fall furthest below that feature's best bin."""
        best = self._best_points()
        penalties = np.asarray([best[b.name] for b in self.bins]) - self.points(frame)
        return top_reasons(penalties, self.point_features, top=top)

    def points_exprs(self) -> list[pl.Expr]:
        """One Polars expression per feature giving its points, named ``points_<feature>``.

        Used for batch scoring: the whole population is scored by column operations, no row loop.
        """
        table = self.points_table()
        recipes = {d.name: d.expr() for d in self.derived}
        exprs: list[pl.Expr] = []
        for b in self.bins:
            pts = table[b.name]
            missing, unseen = pts[b.n_bins + 1], pts[b.n_bins]
            col = recipes.get(b.name, pl.col(b.name))
            if b.kind is FeatureKind.NUMERIC:
                x = col.cast(pl.Float64)
                expr: Any = pl.when(x.is_null() | x.is_nan() | x.is_infinite()).then(pl.lit(missing))
                for i, split in enumerate(b.splits):
                    expr = expr.when(x < split).then(pl.lit(pts[i]))
                exprs.append(expr.otherwise(pl.lit(pts[b.n_bins - 1])).alias(f"points_{b.name}"))
            else:
                mapping = {cat: pts[i] for i, group in enumerate(b.groups) for cat in group}
                text = col.cast(pl.String)
                mapped = text.replace_strict(
                    list(mapping), list(mapping.values()), default=pl.lit(unseen), return_dtype=pl.Float64
                )
                exprs.append(
                    pl.when(text.is_null()).then(pl.lit(missing)).otherwise(mapped).alias(f"points_{b.name}")
                )
        return exprs

    def score_frame(self, frame: pl.DataFrame, *, keep: Sequence[str] = (), top: int = 4) -> pl.DataFrame:
        """Batch scoring: ``keep`` columns, ``score``, ``probability`` and ``reason_1..reason_<top>``."""
        self._require(frame)
        names = self.point_features
        point_cols = [f"points_{f}" for f in names]
        base = self.config.offset - self.config.factor * self.intercept
        scored = frame.lazy().select(*[pl.col(k) for k in keep], *self.points_exprs()).collect()
        total = pl.sum_horizontal(point_cols) if point_cols else pl.lit(base)
        out = scored.select(
            *[pl.col(k) for k in keep],
            total.alias("score"),
            (1.0 / (1.0 + ((total - self.config.offset) / self.config.factor).exp())).alias("probability"),
        )
        best = self._best_points()
        penalties = np.asarray([best[f] for f in names]) - scored.select(point_cols).to_numpy()
        return pl.concat([out, reason_frame(penalties, names, top=top)], how="horizontal")

    def _require(self, frame: pl.DataFrame) -> None:
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ValidationError(f"columns missing for scoring: {', '.join(missing)}", missing=missing)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the whole model is tables of numbers)."""
        c = self.config
        out: dict[str, Any] = {
            "bins": [b.to_dict() for b in self.bins],
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
            "config": {
                "pdo": c.pdo,
                "base_odds": c.base_odds,
                "base_score": c.base_score,
                "min_bin_size": c.min_bin_size,
                "max_prebins": c.max_prebins,
                "prebinning": c.prebinning,
                "max_bins": c.max_bins,
                "min_iv": c.min_iv,
                "default_trend": c.default_trend,
                "monotonic": dict(c.monotonic),
                "code_values": c.code_values,
                "regularisation_c": c.regularisation_c,
                "drop_negative": c.drop_negative,
                "rare_category_share": c.rare_category_share,
                "derive": c.derive,
                "max_shares": c.max_shares,
                "amount_columns": None if c.amount_columns is None else list(c.amount_columns),
            },
        }
        if self.derived:
            out["derived"] = [d.to_dict() for d in self.derived]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scorecard:
        """Inverse of :meth:`to_dict`."""
        try:
            config = dict(data["config"])
            if config.get("amount_columns") is not None:
                config["amount_columns"] = tuple(config["amount_columns"])
            return cls(
                bins=tuple(FeatureBins.from_dict(b) for b in data["bins"]),
                coefficients=tuple(float(c) for c in data["coefficients"]),
                intercept=float(data["intercept"]),
                config=ScorecardConfig(**config),
                derived=tuple(DerivedFeature.from_dict(d) for d in data.get("derived", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError("stored scorecard is malformed", detail=str(exc)) from None


def fit_scorecard(
    frame: pl.DataFrame,
    y: npt.ArrayLike,
    *,
    features: Sequence[str] | None = None,
    config: ScorecardConfig | None = None,
) -> Scorecard:
    """Bin every feature, keep the informative ones and fit the logistic regression on their WoE.

    With ``config.derive``, derived features chosen on these rows join the candidates first.
    """
    from sklearn.linear_model import LogisticRegression

    cfg = config or ScorecardConfig()
    outcome = np.asarray(y, dtype=np.int8)
    if outcome.shape != (frame.height,):
        raise ValidationError("one outcome per row is needed", rows=frame.height, outcomes=int(outcome.size))
    if np.unique(outcome).size != 2:
        raise ValidationError("a scorecard needs both outcomes in the training data")
    names = list(features) if features is not None else list(frame.columns)
    unknown = [m for m in cfg.monotonic if m not in names]
    if unknown:
        raise ConfigurationError(f"monotonic trend given for unknown features: {', '.join(unknown)}")
    kinds = feature_kinds(frame, names)
    derived: tuple[DerivedFeature, ...] = ()
    if cfg.derive:
        frame, names, kinds, derived = add_derived_features(
            frame, outcome, names, kinds, max_shares=cfg.max_shares, amounts=cfg.amount_columns
        )
    all_bins = [_bins_for(n, kinds[n], _raw_values(frame, n, kinds[n]), outcome, cfg) for n in names]
    kept = [b for b in all_bins if b.iv >= cfg.min_iv]
    if not kept:
        kept = sorted(all_bins, key=lambda b: b.iv, reverse=True)[:1]
    woe_cols = {b.name: b.woe_of(b.assign(_raw_values(frame, b.name, b.kind))) for b in kept}
    intercept = math.log(outcome.mean() / (1.0 - outcome.mean()))
    coefs: list[float] = []
    # Refit without features whose coefficient turns negative: such a feature would give more
    # points to a riskier bin, which no analyst can defend (collinearity, not signal).
    for _ in range(len(kept)):
        matrix = np.column_stack([woe_cols[b.name] for b in kept])
        model = LogisticRegression(C=cfg.regularisation_c, max_iter=2000)
        model.fit(matrix, outcome)
        coefs = [float(c) for c in model.coef_[0]]
        intercept = float(model.intercept_[0])
        negative = [i for i, c in enumerate(coefs) if c < 0]
        if not negative or len(kept) == 1 or not cfg.drop_negative:
            break
        drop = min(negative, key=lambda i: coefs[i])
        kept = [b for i, b in enumerate(kept) if i != drop]
    used = {b.name for b in kept}
    return Scorecard(
        bins=tuple(kept),
        coefficients=tuple(coefs),
        intercept=intercept,
        config=cfg,
        derived=tuple(d for d in derived if d.name in used),
    )
