"""Reading tabular files and turning columns into model inputs.

String, categorical, enum and boolean columns are categorical features; integer and float columns are
numeric. Nulls, NaN and infinities are all "missing" (each model gives missing values their own
treatment). Temporal columns are refused: turn them into ages or durations first.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.errors import FileFormatError, ValidationError

__all__ = [
    "FeatureKind",
    "categorical_values",
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
