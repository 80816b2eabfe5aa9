"""Reading tabular files and turning columns into model inputs.

String, categorical, enum and boolean columns are categorical features; integer and float columns are
numeric. Nulls, NaN and infinities are all "missing" (each model gives missing values their own
treatment). Temporal columns are refused: turn them into ages or durations first.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.errors import FileFormatError, ValidationError

__all__ = [
    "DerivedFeature",
    "FeatureKind",
    "add_derived_features",
    "amount_columns",
    "categorical_values",
    "derive_features",
    "feature_kinds",
    "load_table",
    "numeric_values",
    "prepare_target",
]


class FeatureKind(StrEnum):
    """How a model treats a column."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


def load_table(path: str | Path) -> pl.DataFrame:
    """Read a CSV, compressed CSV (``.csv.gz``) or Parquet file into a DataFrame.

    Raises :class:`FileFormatError` for a missing, empty, unreadable or unsupported file.
    """
    file = Path(path)
    if not file.exists():
        raise FileFormatError(f"no such file: {file}", path=str(file))
    if not file.is_file():
        raise FileFormatError(f"not a file: {file}", path=str(file))
    name = file.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            frame = pl.read_parquet(file)
        elif name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
            separator = "\t" if ".tsv" in name else ","
            # infer over the whole file so that a late non-numeric value does not break parsing
            frame = pl.read_csv(
                file, separator=separator, infer_schema_length=None, null_values=["", "NA", "NaN"]
            )
        else:
            raise FileFormatError(
                f"unsupported file type {file.suffix!r}: use .csv, .csv.gz or .parquet", path=str(file)
            )
    except FileFormatError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise FileFormatError(f"cannot read {file}: {str(exc).splitlines()[0]}", path=str(file)) from None
    if frame.height == 0 or frame.width == 0:
        raise FileFormatError(f"{file} holds no data", path=str(file))
    return frame


def feature_kinds(frame: pl.DataFrame, columns: Sequence[str] | None = None) -> dict[str, FeatureKind]:
    """Classify each column as numeric or categorical; refuse columns no model can use."""
    kinds: dict[str, FeatureKind] = {}
    for name in columns if columns is not None else frame.columns:
        dtype = frame.schema[name]
        if dtype.is_numeric():
            kinds[name] = FeatureKind.NUMERIC
        elif dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum | pl.Categorical):
            kinds[name] = FeatureKind.CATEGORICAL
        else:
            raise ValidationError(
                f"column {name!r} has type {dtype} which no model can use; convert it or drop it",
                column=name,
                dtype=str(dtype),
            )
    return kinds


def numeric_values(series: pl.Series) -> npt.NDArray[np.float64]:
    """A float array with NaN for every missing or non-finite value."""
    values = series.cast(pl.Float64).to_numpy().astype(np.float64, copy=True)
    values[~np.isfinite(values)] = np.nan
    return values


def categorical_values(series: pl.Series) -> npt.NDArray[np.object_]:
    """An object array of category labels (text) with ``None`` for missing values."""
    return np.asarray(series.cast(pl.String).to_list(), dtype=object)


def prepare_target(frame: pl.DataFrame, target: str, positive: str | None) -> npt.NDArray[np.int8]:
    """The 0/1 outcome for ``target``, 1 where the value equals ``positive``.

    Without ``positive``, a target holding exactly 0 and 1 (or false and true) uses 1 (true) as the
    event; any other pair of values needs ``positive`` to say which one is the event.
    """
    if target not in frame.columns:
        raise ValidationError(
            f"unknown target column {target!r}; the file has: {', '.join(frame.columns)}", target=target
        )
    column = frame.get_column(target)
    if column.null_count():
        raise ValidationError(
            f"target column {target!r} has {column.null_count()} missing values; remove those rows",
            target=target,
            missing=column.null_count(),
        )
    text = column.cast(pl.String)
    classes = sorted(text.unique().to_list())
    if len(classes) != 2:
        shown = ", ".join(repr(c) for c in classes[:10]) + (" …" if len(classes) > 10 else "")
        raise ValidationError(
            f"target column {target!r} must have exactly two classes, found {len(classes)}: {shown}",
            target=target,
            classes=len(classes),
        )
    if positive is None:
        lowered = {c.lower() for c in classes}
        if lowered == {"0", "1"}:
            positive_text = "1"
        elif lowered == {"false", "true"}:
            positive_text = next(c for c in classes if c.lower() == "true")
        else:
            raise ValidationError(
                f"target column {target!r} holds {classes[0]!r} and {classes[1]!r}; "
                "say which one is the event with --positive",
                target=target,
                classes=classes,
            )
    else:
        positive_text = positive
        if positive_text not in classes:
            match = [c for c in classes if _same_number(c, positive_text)]
            if not match:
                raise ValidationError(
                    f"--positive {positive!r} is not a value of {target!r} "
                    f"(values: {classes[0]!r}, {classes[1]!r})",
                    target=target,
                    positive=positive,
                )
            positive_text = match[0]
    return (text == positive_text).to_numpy().astype(np.int8)


def _same_number(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return False


# Derived features
#
# A scorecard adds up one function per column, so it cannot see that a payment is small *for that
# bill*, or that an account was late in four of the last six months; trees find such relations only
# piecewise. Two generic derivations give both models these facts without knowing the file:
#
# - column families: numeric columns whose names differ only in a trailing number (``BILL_AMT1`` …
#   ``BILL_AMT6``, ``dpd_m1`` … ``dpd_m12``), three or more of them and not all 0/1 (one-hot blocks
#   are not series), are summarised by their maximum, minimum, mean, count of positive values and the
#   change from the first to the last;
# - shares of amounts: for each pair of amount columns (same unit: money), ``a / (|a| + |b|)``, a
#   bounded, outlier-proof form of the ratio ``a / b`` that stays defined when ``b`` is 0 (missing
#   only when both are 0). Only the pairs with the highest information value on the training rows
#   are kept, so the choice is made inside each cross-validation training fold.

_FAMILY_NAME = re.compile(r"^(?P<stem>.*?[^\d])(?P<index>\d+)$")
_MONEY_TOKENS = frozenset(
    {
        "amt",
        "amount",
        "bal",
        "balance",
        "bill",
        "debt",
        "exposure",
        "income",
        "limit",
        "minor",
        "outstanding",
        "paid",
        "principal",
        "salary",
    }
)
_NOT_MONEY_TOKENS = frozenset(
    {"count", "cnt", "days", "months", "n", "num", "pct", "percent", "rate", "ratio", "share"}
)
_FAMILY_OPS = ("max", "min", "mean", "positive_count", "change")
_DERIVED_OPS = frozenset({"share", *_FAMILY_OPS})
# each amount enters at most this many chosen shares (see derive_features)
_SHARES_PER_AMOUNT = 2


@dataclass(frozen=True, slots=True)
class DerivedFeature:
    """A numeric feature computed from input columns (see the comment above for the two kinds).

    ``op`` is ``share`` (of ``columns[0]`` in ``|columns[0]| + |columns[1]|``) or a family summary:
    ``max``, ``min``, ``mean``, ``positive_count`` or ``change`` (first column minus last, in the
    order of the trailing numbers). Missing and non-finite inputs are missing; a summary ignores them.
    """

    name: str
    op: str
    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        if (
            self.op not in _DERIVED_OPS
            or not self.columns
            or (self.op == "share") != (len(self.columns) == 2)
        ):
            raise ValidationError(
                f"malformed derived feature {self.name!r}", op=self.op, columns=list(self.columns)
            )

    def expr(self) -> pl.Expr:
        """The Polars expression that computes the feature (named :attr:`name`)."""
        cols = [_finite(c) for c in self.columns]
        out: pl.Expr
        if self.op == "share":
            a, b = cols
            total = a.abs() + b.abs()
            out = pl.when(total > 0).then(a / total)
        elif self.op == "max":
            out = pl.max_horizontal(cols)
        elif self.op == "min":
            out = pl.min_horizontal(cols)
        elif self.op == "mean":
            out = pl.mean_horizontal(cols)
        elif self.op == "positive_count":
            # a row with every value missing has no count, not zero
            out = pl.when(pl.any_horizontal([c.is_not_null() for c in cols])).then(
                pl.sum_horizontal([(c > 0).cast(pl.Float64) for c in cols])
            )
        else:
            out = cols[0] - cols[-1]
        return out.cast(pl.Float64).alias(self.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "op": self.op, "columns": list(self.columns)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DerivedFeature:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            op=str(data["op"]),
            columns=tuple(str(c) for c in data["columns"]),
        )


def _finite(name: str) -> pl.Expr:
    value = pl.col(name).cast(pl.Float64)
    return pl.when(value.is_finite()).then(value)


def _tokens(name: str) -> set[str]:
    return {t for t in re.split(r"[^a-z]+", name.lower()) if t}


def amount_columns(names: Sequence[str], kinds: Mapping[str, FeatureKind]) -> list[str]:
    """Numeric columns whose names say they hold money (a word such as ``amt``, ``amount``,
    ``balance``, ``bill``, ``limit``, ``paid`` or the ``_minor`` suffix; not ``rate``, ``ratio``,
    ``share``, ``count``, ``days``, …)."""
    out = []
    for name in names:
        words = _tokens(name)
        if kinds.get(name) is FeatureKind.NUMERIC and words & _MONEY_TOKENS and not words & _NOT_MONEY_TOKENS:
            out.append(name)
    return out


def _families(
    frame: pl.DataFrame, names: Sequence[str], kinds: Mapping[str, FeatureKind]
) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[tuple[int, str]]] = {}
    for name in names:
        match = _FAMILY_NAME.match(name)
        if kinds.get(name) is FeatureKind.NUMERIC and match:
            groups.setdefault(match["stem"], []).append((int(match["index"]), name))
    out = []
    for stem, members in groups.items():
        if len(members) < 3:
            continue
        cols = [n for _, n in sorted(members)]
        values = np.concatenate([numeric_values(frame.get_column(c)) for c in cols])
        if np.isin(values[np.isfinite(values)], (0.0, 1.0)).all():
            continue  # a one-hot block, not a series
        out.append((stem.rstrip("_.- ") or stem, cols))
    return out


def _decile_bins(x: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], int]:
    """Bin per value over deciles of the present values, missing last; and the number of bins."""
    present = np.isfinite(x)
    edges = np.unique(np.quantile(x[present], np.linspace(0.1, 0.9, 9))) if present.any() else np.empty(0)
    idx = np.where(present, np.searchsorted(edges, np.where(present, x, 0.0), side="right"), edges.size + 1)
    return idx.astype(np.int64), edges.size + 2


def _quick_woe(x: npt.NDArray[np.float64], y: npt.NDArray[np.int8]) -> npt.NDArray[np.float64]:
    """Weight of evidence per row over decile bins: a cheap stand-in for the scorecard's binning."""
    idx, size = _decile_bins(x)
    counts = np.bincount(idx, minlength=size).astype(np.float64)
    events = np.bincount(idx, weights=y.astype(np.float64), minlength=size)
    event_share = (events + 0.5) / (events.sum() + 0.5 * size)
    non_share = (counts - events + 0.5) / (counts.sum() - events.sum() + 0.5 * size)
    return np.asarray(np.log(event_share / non_share)[idx], dtype=np.float64)


def _residual_gain(
    x: npt.NDArray[np.float64], residual: npt.NDArray[np.float64], weight: npt.NDArray[np.float64]
) -> float:
    """Score-test statistic for adding the decile bins of ``x`` to a fitted logistic model.

    Large when the model's errors (``y - p``) still line up with the bins of ``x``, i.e. when ``x``
    says something the model does not already know.
    """
    idx, size = _decile_bins(x)
    r = np.bincount(idx, weights=residual, minlength=size)
    v = np.bincount(idx, weights=weight, minlength=size)
    used = v > 0
    return float(np.sum(r[used] ** 2 / v[used]))


def _base_residuals(
    frame: pl.DataFrame, y: npt.NDArray[np.int8], numeric: Sequence[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Residuals ``y - p`` and weights ``p (1 - p)`` of a quick WoE logistic model on ``numeric``."""
    from sklearn.linear_model import LogisticRegression

    if not numeric:
        p = np.full(y.size, float(y.mean()))
    else:
        matrix = np.column_stack([_quick_woe(numeric_values(frame.get_column(n)), y) for n in numeric])
        model = LogisticRegression(C=1.0, max_iter=1000)
        model.fit(matrix, y)
        p = model.predict_proba(matrix)[:, 1]
    return y - p, p * (1.0 - p)


def derive_features(
    frame: pl.DataFrame,
    y: npt.NDArray[np.int8],
    names: Sequence[str],
    kinds: Mapping[str, FeatureKind],
    *,
    max_shares: int = 10,
    amounts: Sequence[str] | None = None,
) -> tuple[DerivedFeature, ...]:
    """Derived features for ``names`` chosen on these training rows: family summaries, then up to
    ``max_shares`` amount shares (``amounts`` overrides the columns taken as money; by default
    :func:`amount_columns` picks them by name).

    Shares are ranked by what they add: a quick logistic model on decile WoE of every numeric
    feature and family summary is fitted, and each candidate share is scored by how well its decile
    bins line up with that model's residuals (a score test). A share that only restates a strong
    input ranks low, however high its own information value.
    """
    taken = set(frame.columns)
    derived: list[DerivedFeature] = []
    for stem, cols in _families(frame, names, kinds):
        for op in _FAMILY_OPS:
            name = f"{op}__{stem}"
            if name not in taken:
                derived.append(DerivedFeature(name, op, tuple(cols)))
                taken.add(name)
    money = list(amounts) if amounts is not None else amount_columns(names, kinds)
    if max_shares > 0 and len(money) >= 2:
        candidates = [
            DerivedFeature(f"share__{a}__{b}", "share", (a, b))
            for a, b in itertools.combinations(money, 2)
            if f"share__{a}__{b}" not in taken
        ]
        if candidates:
            base = frame.with_columns([d.expr() for d in derived]) if derived else frame
            numeric = [n for n in names if kinds.get(n) is FeatureKind.NUMERIC] + [d.name for d in derived]
            residual, weight = _base_residuals(base, y, numeric)
            values = frame.select([c.expr() for c in candidates])
            gains = [
                _residual_gain(numeric_values(values.get_column(c.name)), residual, weight)
                for c in candidates
            ]
            order = sorted(range(len(candidates)), key=lambda i: (-gains[i], candidates[i].name))
            # best first, but each amount in a few shares at most: the shares of one column with
            # every other one say nearly the same thing
            uses: dict[str, int] = {}
            chosen = 0
            for i in order:
                pair = candidates[i].columns
                if chosen == max_shares:
                    break
                if all(uses.get(c, 0) < _SHARES_PER_AMOUNT for c in pair):
                    derived.append(candidates[i])
                    chosen += 1
                    for c in pair:
                        uses[c] = uses.get(c, 0) + 1
    return tuple(derived)


def add_derived_features(
    frame: pl.DataFrame,
    y: npt.NDArray[np.int8],
    names: Sequence[str],
    kinds: Mapping[str, FeatureKind],
    *,
    max_shares: int = 10,
    amounts: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, list[str], dict[str, FeatureKind], tuple[DerivedFeature, ...]]:
    """:func:`derive_features` applied: the frame with the chosen columns added, the feature names
    and kinds extended by them (numeric), and the derived features themselves."""
    derived = derive_features(frame, y, names, kinds, max_shares=max_shares, amounts=amounts)
    if not derived:
        return frame, list(names), dict(kinds), derived
    return (
        frame.with_columns([d.expr() for d in derived]),
        [*names, *(d.name for d in derived)],
        {**kinds, **{d.name: FeatureKind.NUMERIC for d in derived}},
        derived,
    )
