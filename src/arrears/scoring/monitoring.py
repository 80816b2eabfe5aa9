"""Model monitoring: population stability and performance on matured outcomes.

PSI compares the distribution of a feature (or of the score) today with a reference sample, usually
the training data, over bins fixed on the reference:

    PSI = Σ (current share − reference share) · ln(current share / reference share)

Common reading: below 0.10 stable, 0.10–0.25 shifting, above 0.25 a shift large enough to review the
model; arrears warns above 0.25. Missing values are a bin of their own, so a feed that starts
dropping a field shows up as drift instead of vanishing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.errors import ValidationError
from arrears.scoring.data import FeatureKind, categorical_values, feature_kinds, numeric_values
from arrears.scoring.metrics import auc, brier, ks

__all__ = [
    "PSI_WARNING",
    "MaturedPerformance",
    "StabilityBins",
    "StabilityResult",
    "matured_performance",
    "population_stability",
    "psi",
]

PSI_WARNING = 0.25
# Floor for an empty bin's share: keeps the logarithm finite without hiding a real gap.
_FLOOR = 1e-4


@dataclass(frozen=True, slots=True)
class StabilityBins:
    """Bins fixed on a reference sample, and the reference share of each.

    Numeric: quantile edges (inner cut points) plus a missing bin. Categorical: the reference
    categories, one bin for categories the reference never had, and a missing bin.
    """

    kind: FeatureKind
    edges: tuple[float, ...]
    categories: tuple[str, ...]
    reference_shares: tuple[float, ...]

    @classmethod
    def fit(cls, reference: pl.Series, *, bins: int = 10) -> StabilityBins:
        """Fix the bins on ``reference`` (``bins`` equal-count bins for numeric data)."""
        if bins < 2:
            raise ValidationError("PSI needs at least two bins", bins=bins)
        kind = feature_kinds(reference.to_frame())[reference.name]
        if kind is FeatureKind.NUMERIC:
            x = numeric_values(reference)
            present = x[~np.isnan(x)]
            inner: npt.NDArray[np.float64] | list[float] = (
                np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])) if present.size else []
            )
            draft = cls(kind, tuple(float(e) for e in inner), (), ())
        else:
            cats = sorted({v for v in categorical_values(reference) if v is not None})
            draft = cls(kind, (), tuple(cats), ())
        counts = draft.counts(reference)
        return cls(draft.kind, draft.edges, draft.categories, tuple(float(c) for c in counts / counts.sum()))

    def counts(self, series: pl.Series) -> npt.NDArray[np.float64]:
        """Rows per bin (regular bins, then unseen categories for categorical data, then missing)."""
        if self.kind is FeatureKind.NUMERIC:
            x = numeric_values(series)
            idx = np.searchsorted(np.asarray(self.edges), x, side="right")
            n_regular = len(self.edges) + 1
            idx[np.isnan(x)] = n_regular
            return np.bincount(idx, minlength=n_regular + 1).astype(np.float64)
        lookup = {c: i for i, c in enumerate(self.categories)}
        n_regular = len(self.categories)
        idx = np.fromiter(
            (n_regular + 1 if v is None else lookup.get(v, n_regular) for v in categorical_values(series)),
            dtype=np.int64,
            count=series.len(),
        )
        return np.bincount(idx, minlength=n_regular + 2).astype(np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with a trained model as its reference distribution)."""
        return {
            "kind": self.kind.value,
            "edges": list(self.edges),
            "categories": list(self.categories),
            "reference_shares": list(self.reference_shares),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StabilityBins:
        """Inverse of :meth:`to_dict`."""
        return cls(
            kind=FeatureKind(data["kind"]),
            edges=tuple(float(e) for e in data["edges"]),
            categories=tuple(str(c) for c in data["categories"]),
            reference_shares=tuple(float(s) for s in data["reference_shares"]),
        )

    def psi(self, current: pl.Series) -> float:
        """PSI of ``current`` against the reference shares."""
        counts = self.counts(current)
        if counts.sum() == 0:
            raise ValidationError("PSI needs at least one current row")
        cur = np.maximum(counts / counts.sum(), _FLOOR)
        ref = np.maximum(np.asarray(self.reference_shares), _FLOOR)
        return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi(reference: pl.Series, current: pl.Series, *, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` (bins fixed on the reference)."""
    return StabilityBins.fit(reference, bins=bins).psi(current)


@dataclass(frozen=True, slots=True)
class StabilityResult:
    """PSI of one column, and whether it passed the warning threshold."""

    column: str
    psi: float
    is_drifting: bool


def population_stability(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    bins: int = 10,
    threshold: float = PSI_WARNING,
) -> list[StabilityResult]:
    """PSI per column (features and the score alike), largest first; ``is_drifting`` when PSI > threshold."""
    names = list(columns) if columns is not None else [c for c in reference.columns if c in current.columns]
    missing = [c for c in names if c not in reference.columns or c not in current.columns]
    if missing:
        raise ValidationError(f"columns missing for PSI: {', '.join(missing)}", columns=missing)
    results = []
    for name in names:
        value = psi(reference.get_column(name), current.get_column(name), bins=bins)
        results.append(StabilityResult(column=name, psi=value, is_drifting=value > threshold))
    return sorted(results, key=lambda r: r.psi, reverse=True)


@dataclass(frozen=True, slots=True)
class MaturedPerformance:
    """Discrimination and calibration on the scores whose outcome window has closed."""

    rows: int
    events: int
    auc: float | None
    ks: float | None
    brier: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"rows": self.rows, "events": self.events, "auc": self.auc, "ks": self.ks, "brier": self.brier}


def matured_performance(
    scored: pl.DataFrame,
    *,
    as_of: date,
    maturity_days: int,
    scored_on: str = "scored_on",
    outcome: str = "outcome",
    probability: str = "probability",
) -> MaturedPerformance:
    """AUC, KS and Brier over rows scored at least ``maturity_days`` before ``as_of`` with a known outcome.

    Younger scores are left out: their outcome window is still open, and counting them as
    non-events would flatter or punish the model at random. AUC and KS are ``None`` while the
    matured rows hold only one outcome.
    """
    if maturity_days < 0:
        raise ValidationError("maturity_days cannot be negative", maturity_days=maturity_days)
    missing = [c for c in (scored_on, outcome, probability) if c not in scored.columns]
    if missing:
        raise ValidationError(f"columns missing: {', '.join(missing)}", columns=missing)
    cutoff = as_of - timedelta(days=maturity_days)
    matured = scored.filter(
        (pl.col(scored_on) <= cutoff) & pl.col(outcome).is_not_null() & pl.col(probability).is_not_null()
    )
    y = matured.get_column(outcome).cast(pl.Int8).to_numpy()
    p = matured.get_column(probability).cast(pl.Float64).to_numpy()
    events = int(y.sum())
    if matured.height == 0:
        return MaturedPerformance(rows=0, events=0, auc=None, ks=None, brier=None)
    both = 0 < events < matured.height
    return MaturedPerformance(
        rows=matured.height,
        events=events,
        auc=auc(y, p) if both else None,
        ks=ks(y, p) if both else None,
        brier=brier(y, p),
    )
