"""Whole-column checks for import rows.

Every check is a Polars expression that yields a reason text where a row fails and null where it
passes. :func:`collect_problems` gathers them into one list column, so a batch is validated in a few
passes over its columns rather than a Python loop over rows.

Polars evaluates an expression tree as written: a sub-expression used by several checks (a trimmed
column, a parsed amount) is computed again for each use. The ``*_columns`` / ``*_problems`` /
:func:`with_stripped` forms compute such intermediates once, as columns, and give the same values as
the expression forms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from arrears.portfolio.readers import ROW
from arrears.portfolio.schema import ColumnSpec, ColumnType

__all__ = [
    "DATE_MAX",
    "DATE_MIN",
    "MONEY_PATTERN",
    "PROBLEMS",
    "blanks_to_null",
    "cn_national_id_problem",
    "cn_national_id_problems",
    "collect_problems",
    "column_problems",
    "first_rows",
    "money_minor",
    "money_minor_columns",
    "parse_date",
    "problem",
    "rate_parts",
    "stripped",
    "with_stripped",
]

PROBLEMS = "_problems"
# Digits are ASCII 0-9 only: Polars' ``\d`` also matches other scripts' digits (full-width ２, Arabic-Indic
# ٢ ...), which pass a pattern and then fail the conversion to a number.
_MONEY = r"^[0-9]{1,15}(\.[0-9]+)?$"
_RATE = r"^[0-9]{1,2}(\.[0-9]{1,12})?$"
_INTEGER = r"^[0-9]{1,9}$"
MONEY_PATTERN = _MONEY  # what a money text (commas removed, trimmed) must match
# Dates every column, driver and database can hold (Python's date stops at 9999; Polars parses more).
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2199, 12, 31)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def problem(field: str, failed: pl.Expr, reason: str | pl.Expr) -> pl.Expr:
    """``field: reason`` where ``failed`` is true, else null."""
    text = pl.lit(f"{field}\t") + (reason if isinstance(reason, pl.Expr) else pl.lit(reason))
    return pl.when(failed.fill_null(False)).then(text).otherwise(pl.lit(None, dtype=pl.String))


def parse_date(name: str) -> pl.Expr:
    return pl.col(name).str.strip_chars().str.to_date("%Y-%m-%d", strict=False)


def stripped(name: str) -> str:
    """The name of the trimmed copy of column ``name`` added by :func:`with_stripped`."""
    return f"_t_{name}"


def with_stripped(frame: pl.DataFrame, names: Iterable[str]) -> pl.DataFrame:
    """Add a trimmed copy of each text column in ``names`` that the frame has (see :func:`stripped`)."""
    return frame.with_columns(
        pl.col(n).str.strip_chars().alias(stripped(n)) for n in names if n in frame.columns
    )


def column_problems(
    specs: Sequence[ColumnSpec], present: Iterable[str], *, use_stripped: bool = False
) -> list[pl.Expr]:
    """Per-column checks (presence, type, length, choices) from the column specifications.

    With ``use_stripped`` the checks read the trimmed copies added by :func:`with_stripped` instead of
    trimming each column again in every check (same results).
    """
    present = set(present)
    out: list[pl.Expr] = []
    for spec in specs:
        if spec.name not in present:
            continue
        col = pl.col(spec.name)
        value = pl.col(stripped(spec.name)) if use_stripped else col.str.strip_chars()
        # A trimmed null is null, so the trimmed copy alone tells blank from filled.
        blank = value.is_null() | (value == "") if use_stripped else col.is_null() | (value == "")
        if spec.required:
            out.append(problem(spec.name, blank, "is required"))
        filled = ~blank
        if spec.max_length:
            out.append(
                problem(
                    spec.name,
                    filled & (value.str.len_chars() > spec.max_length),
                    f"is longer than {spec.max_length} characters",
                )
            )
        if spec.type is ColumnType.MONEY:
            out.append(
                problem(
                    spec.name,
                    filled & ~value.str.replace_all(",", "").str.contains(_MONEY),
                    pl.lit("'")
                    + value
                    + pl.lit("' is not an amount (ASCII digits 0-9 with an optional decimal point)"),
                )
            )
        elif spec.type is ColumnType.RATE:
            out.append(
                problem(
                    spec.name,
                    filled & ~value.str.contains(_RATE),
                    pl.lit("'") + value + pl.lit("' is not a decimal rate such as 0.0435 (ASCII digits 0-9)"),
                )
            )
        elif spec.type is ColumnType.INTEGER:
            out.append(
                problem(
                    spec.name,
                    filled & ~value.str.contains(_INTEGER),
                    pl.lit("'") + value + pl.lit("' is not a whole number (ASCII digits 0-9)"),
                )
            )
        elif spec.type is ColumnType.DATE:
            parsed = value.str.to_date("%Y-%m-%d", strict=False)
            out.append(
                problem(
                    spec.name,
                    filled & parsed.is_null(),
                    pl.lit("'") + value + pl.lit("' is not a date in the form YYYY-MM-DD"),
                )
            )
            out.append(
                problem(
                    spec.name,
                    (parsed < DATE_MIN) | (parsed > DATE_MAX),
                    pl.lit("'") + value + pl.lit(f"' is outside {DATE_MIN} to {DATE_MAX}"),
                )
            )
        if spec.pattern:
            out.append(
                problem(
                    spec.name,
                    filled & ~value.str.contains(spec.pattern),
                    pl.lit("'") + value + pl.lit(f"' {spec.pattern_reason}"),
                )
            )
        elif spec.type is ColumnType.ENUM:
            out.append(
                problem(
                    spec.name,
                    filled & ~value.is_in(list(spec.choices)),
                    pl.lit("'") + value + pl.lit(f"' is not one of {', '.join(spec.choices)}"),
                )
            )
    return out


def blanks_to_null(frame: pl.DataFrame, names: Iterable[str]) -> pl.DataFrame:
    """A cell that is empty or only whitespace (a quoted ``""``, spaces, tabs) is a missing value."""
    return frame.with_columns(
        pl.when(pl.col(n).str.strip_chars() == "").then(None).otherwise(pl.col(n)).alias(n)
        for n in names
        if n in frame.columns
    )


def first_rows(frame: pl.DataFrame, key: str, seen: dict[str, int]) -> pl.Series:
    """The row number of the first row in the file with each row's ``key`` (null where it is missing).

    ``seen`` maps every key of earlier batches to its first row, whether that row was imported or
    rejected, and is extended with this batch's keys: the rule does not depend on batch boundaries.
    """
    keys = frame[key]
    earlier = pl.Series([seen.get(k) for k in keys.to_list()] if seen else [None] * frame.height,
                        dtype=pl.Int64)  # fmt: skip
    first = frame.select(
        pl.when(pl.col(key).is_not_null()).then(pl.coalesce(earlier, pl.col(ROW).min().over(key)))
    ).to_series()
    new = frame.filter(pl.col(key).is_not_null() & earlier.is_null() & pl.col(key).is_first_distinct())
    seen.update(zip(new[key].to_list(), new[ROW].to_list(), strict=True))
    return first


def collect_problems(frame: pl.DataFrame, checks: Sequence[pl.Expr]) -> pl.DataFrame:
    """Add the list column ``_problems`` holding every failed check's ``field\\treason``."""
    if not checks:
        return frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(PROBLEMS))
    return frame.with_columns(pl.concat_list(checks).list.drop_nulls().alias(PROBLEMS))


def money_minor(name: str, exponent: pl.Expr) -> pl.Expr:
    """Decimal text to integer minor units (null if it has more decimals than ``exponent``).

    Exact: digits are shifted as text, never through a float.
    """
    text = pl.col(name).str.strip_chars().str.replace_all(",", "")
    whole = text.str.extract(r"^([0-9]+)", 1)
    frac = text.str.extract(r"\.([0-9]+)$", 1).fill_null("")
    too_precise = frac.str.len_chars() > exponent
    padded = (frac + pl.lit("0000")).str.slice(0, exponent)
    scale = pl.lit(10, dtype=pl.Int64).pow(exponent.cast(pl.Int64))
    minor = whole.cast(pl.Int64, strict=False) * scale + padded.cast(pl.Int64, strict=False).fill_null(0)
    return pl.when(too_precise).then(None).otherwise(minor)


def money_minor_columns(frame: pl.DataFrame, sources: Mapping[str, str], exponent: str) -> pl.DataFrame:
    """Add integer minor-unit columns ``{output: text column}``: :func:`money_minor` of each text
    with the exponent in column ``exponent``, every intermediate computed once."""
    parts = {out: (f"{out}__text", f"{out}__whole", f"{out}__frac") for out in sources}
    frame = frame.with_columns(
        pl.col(source).str.strip_chars().str.replace_all(",", "").alias(parts[out][0])
        for out, source in sources.items()
    )
    frame = frame.with_columns(
        expr
        for text, whole, frac in parts.values()
        for expr in (
            pl.col(text).str.extract(r"^([0-9]+)", 1).cast(pl.Int64, strict=False).alias(whole),
            pl.col(text).str.extract(r"\.([0-9]+)$", 1).fill_null("").alias(frac),
        )
    )
    exp = pl.col(exponent)
    scale = pl.lit(10, dtype=pl.Int64).pow(exp.cast(pl.Int64))
    frame = frame.with_columns(
        pl.when(pl.col(frac).str.len_chars() > exp)
        .then(None)
        .otherwise(
            pl.col(whole) * scale
            + (pl.col(frac) + pl.lit("0000")).str.slice(0, exp).cast(pl.Int64, strict=False).fill_null(0)
        )
        .alias(out)
        for out, (_text, whole, frac) in parts.items()
    )
    return frame.drop([name for names in parts.values() for name in names])


def rate_parts(name: str) -> tuple[pl.Expr, pl.Expr]:
    """An exact rational for a decimal rate text: (numerator, denominator = 10**decimals)."""
    text = pl.col(name).str.strip_chars()
    whole = text.str.extract(r"^([0-9]+)", 1)
    frac = text.str.extract(r"\.([0-9]+)$", 1).fill_null("")
    decimals = frac.str.len_chars()
    den = pl.lit(10, dtype=pl.Int64).pow(decimals.cast(pl.Int64))
    num = whole.cast(pl.Int64, strict=False) * den + frac.cast(pl.Int64, strict=False).fill_null(0)
    return num, den


def cn_national_id_problem(name: str, *, latest_birth: pl.Expr) -> pl.Expr:
    """Reason a Chinese resident ID (GB 11643-1999) is invalid, or null when it is valid.

    Eighteen characters, the first seventeen digits, a real birth date in characters 7-14 not after
    ``latest_birth``, and the ISO 7064 MOD 11-2 check character.
    """
    value = pl.col(name).str.strip_chars().str.to_uppercase()
    shape_ok = value.str.contains(r"^[0-9]{17}[0-9X]$")
    birth = value.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    total = pl.sum_horizontal(
        [value.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(_ID_WEIGHTS)]
    )
    expected = pl.lit(_ID_CHECK).str.slice(total % 11, 1)
    return (
        pl.when(~shape_ok)
        .then(pl.lit("must be 18 characters: 17 digits and a check digit or X"))
        .when(birth.is_null())
        .then(pl.lit("has no valid birth date in characters 7-14"))
        .when(birth > latest_birth)
        .then(pl.lit("has a birth date after the loan was opened"))
        .when(value.str.slice(17, 1) != expected)
        .then(pl.lit("check digit is wrong; expected ") + expected)
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def cn_national_id_problems(frame: pl.DataFrame, name: str, *, latest_birth: str, out: str) -> pl.DataFrame:
    """Add column ``out``: :func:`cn_national_id_problem` of column ``name`` with the latest birth date
    in column ``latest_birth``, every intermediate computed once."""
    value, digits, birth, last = (f"{out}__{part}" for part in ("value", "digits", "birth", "last"))
    frame = frame.with_columns(pl.col(name).str.strip_chars().str.to_uppercase().alias(value))
    text = pl.col(value)
    frame = frame.with_columns(
        # The seventeen digits as one integer (< 10**17 fits Int64): digits come out by arithmetic.
        text.str.slice(0, 17).cast(pl.Int64, strict=False).alias(digits),
        text.str.slice(6, 8).str.to_date("%Y%m%d", strict=False).alias(birth),
        text.str.slice(17, 1).alias(last),
    )
    total = pl.sum_horizontal(
        [(pl.col(digits) // 10 ** (16 - i)) % 10 * w for i, w in enumerate(_ID_WEIGHTS)]
    )
    expected = pl.lit(_ID_CHECK).str.slice(total % 11, 1)
    frame = frame.with_columns(expected.alias(f"{out}__expected"))
    expected = pl.col(f"{out}__expected")
    frame = frame.with_columns(
        pl.when(~text.str.contains(r"^[0-9]{17}[0-9X]$"))
        .then(pl.lit("must be 18 characters: 17 digits and a check digit or X"))
        .when(pl.col(birth).is_null())
        .then(pl.lit("has no valid birth date in characters 7-14"))
        .when(pl.col(birth) > pl.col(latest_birth))
        .then(pl.lit("has a birth date after the loan was opened"))
        .when(pl.col(last) != expected)
        .then(pl.lit("check digit is wrong; expected ") + expected)
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(out)
    )
    return frame.drop(value, digits, birth, last, f"{out}__expected")


def lookup(mapping: Mapping[str, object], key: pl.Expr, dtype: Any) -> pl.Expr:
    """Map a key column through a small Python mapping (unknown keys become null)."""
    return key.replace_strict(dict(mapping), default=None, return_dtype=dtype)
