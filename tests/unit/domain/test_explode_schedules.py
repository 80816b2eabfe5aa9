"""explode_schedules decodes a large column in slices side by side: the result is the one decode's."""

from __future__ import annotations

import json

import polars as pl

from arrears.domain import positions
from arrears.domain.positions import SCHEDULE_DTYPE, explode_schedules


def _schedules(count: int) -> pl.DataFrame:
    texts = [
        json.dumps(
            {
                "due_on": [f"2026-{m:02d}-{1 + n % 28:02d}" for m in range(1, 1 + n % 4)],
                "principal": [100 * n + m for m in range(1, 1 + n % 4)],
                "interest": [n % 7 + m for m in range(1, 1 + n % 4)],
            }
        )
        for n in range(count)
    ]
    return pl.DataFrame(
        {"account_id": list(range(count, 0, -1)), "schedule": texts},
        schema={"account_id": pl.Int64, "schedule": pl.String},
    )


def _one_decode(accounts: pl.DataFrame) -> pl.DataFrame:
    decoded = accounts.select("account_id", pl.col("schedule").str.json_decode(SCHEDULE_DTYPE).alias("_s"))
    return (
        decoded.unnest("_s")
        .with_columns(pl.int_ranges(1, pl.col("due_on").list.len() + 1).alias("number"))
        .explode("due_on", "principal", "interest", "number")
        .select(
            "account_id",
            pl.col("number").cast(pl.Int32),
            pl.col("due_on").str.to_date("%Y-%m-%d"),
            pl.col("principal").alias("principal_minor"),
            pl.col("interest").alias("interest_minor"),
        )
    )


def test_sliced_decode_equals_one_decode_in_order() -> None:
    accounts = _schedules(2 * positions._DECODE_ROWS + 17)  # three slices, the last one short
    got = explode_schedules(accounts)
    assert got.equals(_one_decode(accounts))
    # Account order is kept (ids descending here); an empty schedule gives no row, as decoded.
    with_items = [i for n, i in enumerate(accounts["account_id"].to_list()) if n % 4]
    assert got["account_id"].unique(maintain_order=True).to_list() == with_items
    assert got.height == sum(n % 4 for n in range(accounts.height))


def test_no_accounts_no_rows() -> None:
    empty = explode_schedules(_schedules(0))
    assert empty.height == 0
    assert empty.columns == ["account_id", "number", "due_on", "principal_minor", "interest_minor"]
