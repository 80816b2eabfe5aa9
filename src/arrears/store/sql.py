"""Query helpers for whole-column reads: an id list bound as one value, and dates read as text on
SQLite and parsed as whole Polars columns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import ARRAY, BigInteger, LargeBinary, String, any_, bindparam, func, select, type_coerce

__all__ = ["WHOLE", "IdBounds", "date_as_read", "dates_parsed", "in_ids", "packed", "within"]

IdBounds = tuple[int | None, int | None]
"""Ids ``low <= id < high``; ``None`` leaves that end open."""

WHOLE: IdBounds = (None, None)


def in_ids(conn: Any, column: Any, ids: Sequence[int]) -> Any:
    """``column IN ids`` with the whole list as one parameter, however long it is.

    A JSON array read by ``json_each`` on SQLite, an array compared with ``= ANY`` on PostgreSQL:
    one statement instead of chunks of thousands of bound values, which cost more to compile and
    parse than to run.
    """
    values = [int(i) for i in ids]
    if conn.dialect.name == "sqlite":
        listed = func.json_each(bindparam(None, json.dumps(values), type_=String)).table_valued("value")
        return column.in_(select(listed.c.value))
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(BigInteger)))
    return column.in_(values)


def packed(column: Any) -> Any:
    """A packed schedule column read as its stored bytes (for ``pl.Binary``), not decoded row by row."""
    return type_coerce(column, LargeBinary)


def date_as_read(conn: Any, column: Any) -> Any:
    """A date column to read into Polars: on SQLite the stored ISO text (``YYYY-MM-DD``), which
    :func:`dates_parsed` turns into dates over the whole column instead of row by row; elsewhere
    the column itself (the driver returns dates)."""
    if conn.dialect.name == "sqlite":
        return type_coerce(column, String).label(column.key)
    return column


def dates_parsed(frame: pl.DataFrame, *names: str) -> pl.DataFrame:
    """``frame`` with the named columns read by :func:`date_as_read` as dates."""
    return frame.with_columns(
        pl.col(n).str.to_date("%Y-%m-%d") if frame.schema[n] == pl.String else pl.col(n).cast(pl.Date)
        for n in names
    )


def within(column: Any, ids: IdBounds) -> list[Any]:
    """The SQL conditions that keep ``column`` inside ``ids`` (none for an open end)."""
    low, high = ids
    return [
        *([column >= low] if low is not None else []),
        *([column < high] if high is not None else []),
    ]
