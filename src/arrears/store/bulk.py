"""Bulk writes of whole Polars frames inside the caller's transaction.

SQLite gets ``executemany`` on the raw driver connection; PostgreSQL gets ``COPY ... FROM STDIN``.
Ids are reserved up front (a sequence range on PostgreSQL; the write lock taken by the unit of work on
SQLite) so that child rows can be written in the same pass without reading ids back.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import JSON, Connection, Table, bindparam, update

__all__ = ["allocate_ids", "insert_frame", "is_empty", "tune_for_bulk", "update_rows"]

_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%6f"
_SQLITE_MAX_VARIABLES = 32_000  # SQLite >= 3.32 allows 32,766 bound parameters per statement


def allocate_ids(conn: Connection, table: str, count: int) -> pl.Series:
    """Reserve ``count`` new primary keys for ``table``; returns them as an Int64 series."""
    if count == 0:
        return pl.Series("id", [], dtype=pl.Int64)
    if conn.dialect.name == "postgresql":
        raw = conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, {int(count)})"
        ).fetchall()
        return pl.Series("id", sorted(r[0] for r in raw), dtype=pl.Int64)
    start = conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").scalar_one()
    return pl.Series("id", range(int(start) + 1, int(start) + 1 + count), dtype=pl.Int64)


def tune_for_bulk(conn: Connection) -> None:
    """Give this connection's bulk work a larger page cache (SQLite only; allowed inside a transaction).

    SQLite's default page cache (2 MB) is far smaller than the indexes a large import or cycle touches;
    every insert into a random-keyed index then reads pages from the file again. The settings last
    for the connection and change nothing about durability. PostgreSQL is left as configured.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB, in KiB when negative


def is_empty(conn: Connection, table: str) -> bool:
    """Whether ``table`` has no rows (one index probe, so existence lookups can be skipped)."""
    return conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first() is None


def _prepare_sqlite(df: pl.DataFrame) -> pl.DataFrame:
    exprs: list[pl.Expr] = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if dtype == pl.Date:
            exprs.append(col.dt.strftime("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None:
                col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            exprs.append(col.dt.strftime(_SQLITE_DATETIME).alias(name))
        elif dtype == pl.Boolean:
            exprs.append(col.cast(pl.Int8))
        else:
            exprs.append(col)
    return df.select(exprs)


def insert_frame(conn: Connection, table: str, df: pl.DataFrame) -> int:
    """Insert every row of ``df`` (column names = table columns). Returns the number of rows."""
    if df.height == 0:
        return 0
    columns = ", ".join(df.columns)
    raw: Any = conn.connection.driver_connection
    assert raw is not None
    if conn.dialect.name == "postgresql":
        frame = df.select(
            [
                pl.col(n).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
                if isinstance(t, pl.Datetime) and t.time_zone is not None
                else pl.col(n)
                for n, t in df.schema.items()
            ]
        )
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False, null_value="", quote_style="non_numeric")
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy,
        ):
            copy.write(buffer.getvalue())
        return df.height
    # Many rows per INSERT statement: far fewer calls into SQLite than one execution per row.
    width = len(df.columns)
    per_statement = max(1, min(500, _SQLITE_MAX_VARIABLES // width))
    row_sql = "(" + ", ".join("?" for _ in df.columns) + ")"
    full_sql = f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([row_sql] * per_statement)
    cursor = raw.cursor()
    try:
        # One conversion to Python tuples for the whole frame, then flat slices per statement.
        flat = list(itertools.chain.from_iterable(_prepare_sqlite(df).rows()))
        step = per_statement * width
        for start in range(0, len(flat), step):
            values = flat[start : start + step]
            height = len(values) // width
            sql = (
                full_sql
                if height == per_statement
                else (f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([row_sql] * height))
            )
            cursor.execute(sql, values)
    finally:
        cursor.close()
    return df.height


def update_rows(conn: Connection, table: Table, key: str, df: pl.DataFrame) -> int:
    """Update rows of ``table`` matched on column ``key`` with the other columns of ``df``.

    Goes through the table's column types (aware times, JSON) and bumps ``version`` where the table
    has one, so optimistic locks held elsewhere see the change.
    """
    if df.height == 0:
        return 0
    settable: Sequence[str] = [c for c in df.columns if c != key]
    values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in settable}
    if "version" in table.c:
        values["version"] = table.c.version + 1
    statement = update(table).where(table.c[key] == bindparam("k_key")).values(values)
    # JSON columns arrive as JSON text from the frame; the column type would encode them again.
    json_columns = {c for c in settable if isinstance(table.c[c].type, JSON)}
    params: list[dict[str, Any]] = [
        {
            "k_key": row[key],
            **{
                f"v_{c}": json.loads(row[c]) if c in json_columns and row[c] is not None else row[c]
                for c in settable
            },
        }
        for row in df.iter_rows(named=True)
    ]
    conn.execute(statement, params)
    return df.height
