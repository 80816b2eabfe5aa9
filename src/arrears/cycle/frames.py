"""Loading the cycle's working set as whole columns: open accounts, schedules, balances, positions."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Connection, Text, cast, func, select

from arrears.domain.delinquency import bucket_expr
from arrears.domain.ledger import Component
from arrears.domain.positions import explode_schedules, positions
from arrears.domain.products import Product
from arrears.store import tables

__all__ = ["COMPONENTS", "balances_through", "open_accounts", "partition_filter", "positions_on"]

COMPONENTS = tuple(c.value for c in Component)


def partition_filter(column: object, partition: int, partitions: int) -> object:
    """The SQL condition that puts a row keyed by ``column`` (an account id) in ``partition``."""
    return (column % partitions) == partition  # type: ignore[operator]


def open_accounts(conn: Connection, *, partition: int = 0, partitions: int = 1) -> pl.DataFrame:
    """Open accounts of one partition (``account_id % partitions == partition``)."""
    a = tables.Account
    query = select(
        a.id, a.product_code, a.currency, a.annual_rate, a.charged_through_on, cast(a.schedule, Text)
    ).where(a.status == "open")
    if partitions > 1:
        query = query.where(partition_filter(a.id, partition, partitions))  # type: ignore[arg-type]
    rows = conn.execute(query).all()
    return pl.DataFrame(
        [(r[0], r[1], r[2], str(r[3]), r[4], r[5]) for r in rows],
        schema={
            "account_id": pl.Int64,
            "product_code": pl.String,
            "currency": pl.String,
            "annual_rate": pl.String,
            "charged_through_on": pl.Date,
            "schedule": pl.String,
        },
        orient="row",
    )


def balances_through(
    conn: Connection, *, through: dt.date, partition: int = 0, partitions: int = 1
) -> pl.DataFrame:
    """Ledger folds per account of entries effective on or before ``through``."""
    e = tables.LedgerEntry
    query = (
        select(e.account_id, *[func.coalesce(func.sum(getattr(e, f"{c}_minor")), 0) for c in COMPONENTS])
        .where(e.effective_on <= through)
        .group_by(e.account_id)
    )
    if partitions > 1:
        query = query.where(partition_filter(e.account_id, partition, partitions))  # type: ignore[arg-type]
    return pl.DataFrame(
        conn.execute(query).all(),
        schema={"account_id": pl.Int64, **{f"{c}_minor": pl.Int64 for c in COMPONENTS}},
        orient="row",
    )


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


def schedule_items(accounts: pl.DataFrame) -> pl.DataFrame:
    """One row per instalment of the given accounts."""
    return explode_schedules(accounts.select("account_id", "schedule"))
