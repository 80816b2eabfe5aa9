"""Loading the cycle's working set as whole columns: open accounts, schedules, balances, positions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import polars as pl
from sqlalchemy import Connection, Executable, Text, cast, func, select

from arrears.domain.delinquency import bucket_expr
from arrears.domain.ledger import Component
from arrears.domain.positions import explode_schedules, positions
from arrears.domain.products import Product
from arrears.store import bulk, tables
from arrears.store.sql import packed

__all__ = [
    "COMPONENTS",
    "IdRange",
    "balances_through",
    "open_accounts",
    "partition_filter",
    "positions_on",
    "read_ahead",
    "read_frame",
    "schedule_items",
]

COMPONENTS = tuple(c.value for c in Component)

IdRange = tuple[int, int]
"""Account ids ``lo <= id < hi``: a slice of the book worked on at once to bound memory."""

_FETCH_ROWS = 200_000
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S%.f"

_T = TypeVar("_T")
_Ids = TypeVar("_Ids")
_Ctx = TypeVar("_Ctx")


def read_frame(conn: Connection, query: Executable, schema: Mapping[str, Any]) -> pl.DataFrame:
    """The rows of ``query`` as a frame of ``schema`` (column names in select order), read from the driver.

    SQLAlchemy's per-row result processing (Python-level date, decimal and datetime conversion of every
    value) costs more than the query itself on a whole book. On SQLite the result comes column by
    column as JSON arrays (:func:`arrears.store.bulk.sqlite_columns`) where the columns allow it;
    otherwise, and on PostgreSQL, rows go from the driver's cursor straight into Polars, in batches.
    SQLite's text dates and datetimes (stored in UTC) are parsed as whole columns. Decimal columns
    must be read as text (``String``).
    """
    sqlite = conn.dialect.name == "sqlite"

    def raw(dtype: Any) -> Any:
        return pl.String if sqlite and (dtype == pl.Date or isinstance(dtype, pl.Datetime)) else dtype

    raw_schema = {name: raw(dtype) for name, dtype in schema.items()}
    frame = (
        bulk.sqlite_columns(conn, query, raw_schema) if sqlite else bulk.postgres_columns(conn, query, schema)
    )
    if frame is None:
        frame = _read_rows(conn, query, raw_schema)
    if not sqlite:
        return frame
    converted = []
    for name, dtype in schema.items():
        if dtype == pl.Date:
            converted.append(pl.col(name).str.to_date("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            parsed = pl.col(name).str.to_datetime(_SQLITE_DATETIME, time_unit=dtype.time_unit or "us")
            if dtype.time_zone is not None:
                parsed = parsed.dt.replace_time_zone("UTC").dt.convert_time_zone(dtype.time_zone)
            converted.append(parsed)
    return frame.with_columns(converted) if converted else frame


def _read_rows(conn: Connection, query: Executable, schema: Mapping[str, Any]) -> pl.DataFrame:
    result = conn.execute(query)
    cursor = result.cursor
    parts = []
    try:
        while batch := cursor.fetchmany(_FETCH_ROWS):
            parts.append(pl.DataFrame(batch, schema=schema, orient="row"))
    finally:
        result.close()
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def read_ahead(
    conn: Connection,
    ctx: _Ctx,
    slices: Sequence[_Ids],
    read: Callable[[Connection, _Ctx, _Ids], _T],
) -> Iterator[tuple[_Ids, _T]]:
    """Each slice with what ``read`` reads of it; the next slice's is read on a second connection
    while the caller works on this one.

    The reads are whole-column queries whose time is spent in the database driver and in Polars,
    both of which let other Python threads run, so on a machine with a spare core the next slice's
    read overlaps this slice's computing and writing. The second connection sees what is committed:
    a slice's rows are written only by this step, in the caller's transaction, and slices are
    disjoint ranges of accounts, so the next slice's rows are the same through either connection
    (on SQLite no other writer can commit while this transaction holds the write lock). One slice,
    or an in-memory database, is read on the caller's connection.
    """
    url = conn.engine.url
    if len(slices) < 2 or (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")):
        for ids in slices:
            yield ids, read(conn, ctx, ids)
        return
    with conn.engine.connect() as side, ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[_T] | None = None
        for index, ids in enumerate(slices):
            got = read(conn, ctx, ids) if pending is None else pending.result()
            pending = pool.submit(read, side, ctx, slices[index + 1]) if index + 1 < len(slices) else None
            yield ids, got


def partition_filter(column: object, partition: int, partitions: int) -> object:
    """The SQL condition that puts a row keyed by ``column`` (an account id) in ``partition``."""
    return (column % partitions) == partition  # type: ignore[operator]


def open_accounts(
    conn: Connection, *, partition: int = 0, partitions: int = 1, ids: IdRange | None = None
) -> pl.DataFrame:
    """Open accounts of one partition (``account_id % partitions == partition``), within ``ids`` if given."""
    a = tables.Account
    query = select(
        a.id,
        a.product_code,
        a.currency,
        cast(a.annual_rate, Text),
        a.charged_through_on,
        packed(a.schedule),
    ).where(a.status == "open")
    if partitions > 1:
        query = query.where(partition_filter(a.id, partition, partitions))  # type: ignore[arg-type]
    if ids is not None:
        query = query.where(a.id >= ids[0], a.id < ids[1])
    frame = read_frame(
        conn,
        query,
        {
            "account_id": pl.Int64,
            "product_code": pl.String,
            "currency": pl.String,
            "annual_rate": pl.String,
            "charged_through_on": pl.Date,
            "schedule": pl.Binary,
        },
    )
    # Rates as the decimal type writes them (str(Decimal(text))), mapped once per distinct rate.
    rates = frame.get_column("annual_rate").unique()
    canonical = {r: str(Decimal(r)) for r in rates.to_list() if r is not None}
    if any(k != v for k, v in canonical.items()):
        frame = frame.with_columns(pl.col("annual_rate").replace(canonical))
    return frame


def balances_through(
    conn: Connection,
    *,
    through: dt.date,
    partition: int = 0,
    partitions: int = 1,
    ids: IdRange | None = None,
    on: dt.date | None = None,
) -> pl.DataFrame:
    """Ledger folds per account of entries effective on or before ``through`` (only on ``on`` if given).

    ``ids`` limits the accounts to a range of ids (the index on account id and effective date serves it).
    """
    e = tables.LedgerEntry
    query = (
        select(e.account_id, *[func.coalesce(func.sum(getattr(e, f"{c}_minor")), 0) for c in COMPONENTS])
        .where(e.effective_on <= through)
        .group_by(e.account_id)
    )
    if on is not None:
        query = query.where(e.effective_on == on)
    if partitions > 1:
        query = query.where(partition_filter(e.account_id, partition, partitions))  # type: ignore[arg-type]
    if ids is not None:
        query = query.where(e.account_id >= ids[0], e.account_id < ids[1])
    return read_frame(conn, query, {"account_id": pl.Int64, **{f"{c}_minor": pl.Int64 for c in COMPONENTS}})


def positions_on(
    accounts: pl.DataFrame,
    items: pl.DataFrame,
    balances: pl.DataFrame,
    *,
    as_of: dt.date,
    products: dict[str, Product],
) -> pl.DataFrame:
    """Balances, overdue, DPD and bucket per account at ``as_of`` (zero balances where no entries)."""
    frame = accounts.select("account_id", "product_code", "currency", "charged_through_on").join(
        balances, on="account_id", how="left"
    )
    frame = frame.with_columns([pl.col(f"{c}_minor").fill_null(0) for c in COMPONENTS])
    pos = positions(
        items,
        frame.select("account_id", *[f"{c}_minor" for c in COMPONENTS], "charged_through_on"),
        as_of=as_of,
    )
    frame = frame.join(pos, on="account_id", how="left")
    scheme_of = {code: str(p.bucket_scheme) for code, p in products.items()}
    frame = frame.with_columns(
        pl.col("product_code").replace_strict(scheme_of, return_dtype=pl.String).alias("scheme")
    )
    parts = [
        group.with_columns(bucket_expr(pl.col("dpd"), str(scheme)).cast(pl.String).alias("bucket"))
        for (scheme,), group in frame.group_by("scheme")
    ]
    return pl.concat(parts) if parts else frame.with_columns(pl.lit(None, dtype=pl.String).alias("bucket"))


_kept: tuple[pl.DataFrame, pl.DataFrame] | None = None


def schedule_items(accounts: pl.DataFrame, *, keep: bool = False, take: bool = False) -> pl.DataFrame:
    """One row per instalment of the given accounts.

    Decoding every schedule is a large cost of the ledger steps, and ``accrue`` and
    ``positions`` decode the same slice of the book one after the other. With ``keep`` the result is
    kept (one slice at a time, in this process); with ``take`` a kept result is used, and released,
    when its input (account ids and packed schedules) equals this one exactly — otherwise it is decoded.
    """
    global _kept
    given = accounts.select("account_id", "schedule")
    kept = _kept
    if kept is not None and kept[0].equals(given):
        if take:
            _kept = None
        return kept[1]
    items = explode_schedules(given)
    if keep:
        _kept = (given, items)
    return items
