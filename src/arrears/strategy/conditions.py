"""Segment conditions: analyst-written expressions compiled to Polars expressions.

A condition reads the way an analyst writes it::

    dpd between 1 and 30 and score >= 600 and not hardship
    bucket in ('M2', 'M3') or (balance > 20000 and promises_broken >= 2)

It is parsed by Polars' SQL expression parser (:func:`polars.sql_expr`), a maintained grammar: nothing
is ever passed to ``eval``. Compiling checks every name against :data:`FEATURES`, checks that literals
are compared with features of the same kind (a number with a number, text with text, a yes/no with
true/false) and that the whole condition is a yes/no. A condition whose features are missing (null)
counts as not met.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import numpy as np
import polars as pl

__all__ = [
    "FEATURES",
    "CompiledCondition",
    "ConditionError",
    "Feature",
    "FeatureKind",
    "FeatureSource",
    "compile_condition",
    "feature_schema",
    "probe_frame",
    "with_feature_defaults",
]

BALANCE_DTYPE = pl.Decimal(38, 4)


class FeatureKind(StrEnum):
    """What a feature holds, for type checking literals against it."""

    NUMBER = "number"
    TEXT = "text"
    FLAG = "flag"


class FeatureSource(StrEnum):
    """Where a feature comes from: computed from stored data, or supplied by another capability."""

    COMPUTED = "computed"
    SUPPLIED = "supplied"


@dataclass(frozen=True)
class Feature:
    """One account feature a condition may use, with its type and the value used when it is absent."""

    name: str
    dtype: pl.DataType
    kind: FeatureKind
    source: FeatureSource
    default: Any
    description: str


def _f(name: str, dtype: pl.DataType, source: FeatureSource, default: Any, description: str) -> Feature:
    if dtype == pl.Boolean:
        kind = FeatureKind.FLAG
    elif dtype == pl.String:
        kind = FeatureKind.TEXT
    else:
        kind = FeatureKind.NUMBER
    return Feature(name, dtype, kind, source, default, description)


_C, _S = FeatureSource.COMPUTED, FeatureSource.SUPPLIED

FEATURES: dict[str, Feature] = {
    f.name: f
    for f in [
        _f("dpd", pl.Int64(), _C, 0, "Days past due (contractual method) on the as-of date."),
        _f(
            "bucket",
            pl.String(),
            _C,
            None,
            "Delinquency bucket of the product's scheme (M1, M2 ... / 30, 60 ...).",
        ),
        _f("balance", BALANCE_DTYPE, _C, Decimal(0), "Total balance owed, in major units of the currency."),
        _f("balance_minor", pl.Int64(), _C, 0, "Total balance owed, in minor units."),
        _f("overdue", BALANCE_DTYPE, _C, Decimal(0), "Amount fallen due and unpaid, in major units."),
        _f("overdue_minor", pl.Int64(), _C, 0, "Amount fallen due and unpaid, in minor units."),
        _f("product", pl.String(), _C, None, "Product code (e.g. cn-consumer-loan)."),
        _f("currency", pl.String(), _C, None, "ISO 4217 currency of the account."),
        _f("jurisdiction", pl.String(), _C, None, "Jurisdiction of the debtor (CN, US-NY ...)."),
        _f("language", pl.String(), _C, None, "Language for messages (debtor's language unless supplied)."),
        _f("paid_last_30d", pl.Boolean(), _C, False, "A payment was received in the 30 days up to as-of."),
        _f(
            "first_payment_default",
            pl.Boolean(),
            _C,
            False,
            "The first instalment is still unpaid and past due.",
        ),
        _f("score", pl.Int64(), _S, None, "Collection score 0-1000 (higher pays more); absent = unscored."),
        _f("promises_broken", pl.Int64(), _S, 0, "Promises to pay broken in the last 180 days."),
        _f(
            "days_since_rpc",
            pl.Int64(),
            _S,
            None,
            "Days since the last right-party conversation; absent = never reached.",
        ),
        _f("hardship", pl.Boolean(), _S, False, "A hardship flag is open on the account."),
        _f("dispute", pl.Boolean(), _S, False, "The debt is disputed and the dispute is unresolved."),
        _f("stage", pl.String(), _S, "none", "Collection case stage (early, late, legal ...)."),
    ]
}

_COMPARISONS = {"Eq", "NotEq", "Lt", "LtEq", "Gt", "GtEq", "EqValidity", "NotEqValidity"}


class ConditionError(ValueError):
    """A condition that cannot be used; ``kind`` is one of unparsable, unknown_feature, type_mismatch."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class CompiledCondition:
    """A checked condition: its text, the Polars expression (null = not met) and the features it reads."""

    text: str
    expr: pl.Expr
    features: tuple[str, ...]


def feature_schema() -> dict[str, pl.DataType]:
    """Column name → Polars type of every feature."""
    return {name: f.dtype for name, f in FEATURES.items()}


def with_feature_defaults(frame: pl.DataFrame) -> pl.DataFrame:
    """Add every missing feature column with its documented default, and cast present ones to their type."""
    exprs: list[pl.Expr] = []
    for name, feature in FEATURES.items():
        if name in frame.columns:
            exprs.append(pl.col(name).cast(feature.dtype))
        else:
            exprs.append(pl.lit(feature.default, dtype=feature.dtype).alias(name))
    return frame.with_columns(exprs)


def _literal_kind(literal: Any) -> FeatureKind | None:
    if not isinstance(literal, dict):
        return None
    value = literal.get("Scalar") or literal.get("Dyn")
    if not isinstance(value, dict):
        return None  # a list literal (IN (...)) is checked by evaluation instead
    if "Boolean" in value:
        return FeatureKind.FLAG
    if "String" in value:
        return FeatureKind.TEXT
    if value.keys() & {"Int", "Float", "Decimal", "Int64", "Int32", "UInt64", "Float64"}:
        return FeatureKind.NUMBER
    return None


def _kind_of(node: Any) -> tuple[str | None, FeatureKind | None] | None:
    """(feature name or None for a literal, kind) of a bare column or literal node, else None."""
    if isinstance(node, dict):
        if isinstance(node.get("Column"), str):
            feature = FEATURES.get(node["Column"])
            return (node["Column"], feature.kind if feature else None)
        if "Literal" in node:
            return (None, _literal_kind(node["Literal"]))
    return None


def _compare(left: Any, right: Any, found: list[str]) -> None:
    a, b = _kind_of(left), _kind_of(right)
    if not (a and b and a[1] and b[1]) or a[1] == b[1]:
        return
    column, other = (a, b) if a[0] is not None else (b, a)
    if column[0] is not None:
        found.append(f"{column[0]} is a {column[1]} but is compared with a {other[1]}")


def _type_problems(node: Any, found: list[str]) -> None:
    """Walk the serialised expression tree for comparisons of mismatched kinds and ``not`` of a non-flag."""
    if isinstance(node, dict):
        binary = node.get("BinaryExpr")
        if isinstance(binary, dict) and binary.get("op") in _COMPARISONS:
            _compare(binary.get("left"), binary.get("right"), found)
        function = node.get("Function")
        if isinstance(function, dict):
            kind, inputs = function.get("function"), function.get("input") or []
            sql = kind.get("Sql") if isinstance(kind, dict) else None
            if isinstance(sql, dict) and sql.get("Binary") in _COMPARISONS and len(inputs) == 2:
                _compare(inputs[0], inputs[1], found)
            if isinstance(kind, dict) and kind.get("Boolean") == "Not" and inputs:
                cast = inputs[0].get("Cast") if isinstance(inputs[0], dict) else None
                target = _kind_of(cast.get("expr")) if isinstance(cast, dict) else None
                if target and target[0] and target[1] not in (None, FeatureKind.FLAG):
                    found.append(f"'not {target[0]}': {target[0]} is a {target[1]}, not a yes/no flag")
        for value in node.values():
            _type_problems(value, found)
    elif isinstance(node, list):
        for value in node:
            _type_problems(value, found)


_EMPTY = pl.DataFrame(
    {name: [f.default if f.default is not None else None] for name, f in FEATURES.items()},
    schema=feature_schema(),
)


def compile_condition(text: str) -> CompiledCondition:
    """Parse and check ``text``; raises :class:`ConditionError` saying what is wrong."""
    source = " ".join(str(text).split())
    if not source:
        raise ConditionError("unparsable", "the condition is empty")
    try:
        expr = pl.sql_expr(source)
    except Exception as exc:  # the SQL parser's own message names the problem
        raise ConditionError("unparsable", f"cannot parse {source!r}: {str(exc).splitlines()[0]}") from None
    names = tuple(dict.fromkeys(expr.meta.root_names()))
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ConditionError(
            "unknown_feature",
            f"unknown feature {', '.join(unknown)}; known features: {', '.join(sorted(FEATURES))}",
        )
    problems: list[str] = []
    try:
        _type_problems(json.loads(expr.meta.serialize(format="json")), problems)
    except Exception:  # the serialised form is only a helper; the probe evaluation below still runs
        problems = []
    if problems:
        raise ConditionError("type_mismatch", "; ".join(problems))
    try:
        result = _EMPTY.select(expr.alias("_result")).to_series()
    except Exception as exc:
        raise ConditionError("type_mismatch", f"{source!r}: {str(exc).splitlines()[0]}") from None
    if result.dtype != pl.Boolean:
        raise ConditionError(
            "type_mismatch", f"{source!r} gives a {result.dtype} value, not true/false; add a comparison"
        )
    return CompiledCondition(text=source, expr=expr.fill_null(False), features=names)


_NUMBER = re.compile(r"(?<![\w'])-?\d+(?:\.\d+)?(?![\w'])")
_QUOTED = re.compile(r"'((?:[^']|'')*)'")


def probe_frame(conditions: list[str], *, rows: int = 20_000, seed: int = 20260101) -> pl.DataFrame:
    """Synthetic feature rows around every literal the conditions mention (for reachability checks).

    Each numeric feature takes values at, just below and just above every number in the conditions;
    each text feature every quoted string plus an unmentioned one; flags both values; absent values
    where the feature has no default. Seeded, so the same strategy always gets the same probe.
    """
    numbers: set[Decimal] = {Decimal(0)}
    texts: set[str] = {"~other~"}
    for text in conditions:
        texts.update(m.replace("''", "'") for m in _QUOTED.findall(text))
        stripped = _QUOTED.sub("''", text)
        numbers.update(Decimal(m) for m in _NUMBER.findall(stripped))
    near = sorted({v + d for v in numbers for d in (Decimal(-1), Decimal(0), Decimal(1))} | {Decimal(10**7)})
    rng = np.random.default_rng(seed)
    data: dict[str, pl.Series] = {}
    for name, feature in FEATURES.items():
        values: list[Any]
        if feature.kind is FeatureKind.FLAG:
            values = [True, False]
        elif feature.kind is FeatureKind.TEXT:
            values = sorted(texts)
        elif feature.dtype == BALANCE_DTYPE:
            values = near
        else:
            values = sorted({int(v) for v in near})
        if feature.default is None:
            values = [*values, None]
        picks = pl.Series(rng.integers(0, len(values), rows))
        data[name] = pl.Series(name, values, dtype=feature.dtype).gather(picks)
    return pl.DataFrame(data)
