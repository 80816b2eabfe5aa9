"""A first load (no debtors or accounts stored) builds its rows ahead of the writer; the rows it
stores are exactly those the general path stores for the same file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, text

from arrears.portfolio import accounts_import
from arrears.portfolio.accounts_import import import_accounts
from arrears.sim.generate import generate_accounts, write

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
# table → its id-bearing columns and the table each refers to
TABLES = {
    "debtors": {"id": "debtors"},
    "persons": {"id": "persons", "debtor_id": "debtors"},
    "contact_points": {"id": "contact_points", "debtor_id": "debtors", "person_id": "persons"},
    "accounts": {"id": "accounts", "debtor_id": "debtors"},
    "ledger_entries": {"id": "ledger_entries", "account_id": "accounts"},
}


def _stored(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the loaded tables, ids made relative to each table's first id."""
    with engine.connect() as conn:
        first = {t: conn.execute(text(f"SELECT MIN(id) FROM {t}")).scalar_one() for t in TABLES}
        out = {}
        for table, refs in TABLES.items():
            result = conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            names = list(result.keys())
            rows = []
            for row in result:
                rows.append(
                    tuple(
                        v - first[refs[n]]
                        if n in refs and v is not None
                        else (bytes(v) if isinstance(v, memoryview) else v)
                        for n, v in zip(names, row, strict=True)
                    )
                )
            out[table] = rows
    return out


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(TABLES):
            conn.execute(text(f"DELETE FROM {table}"))


def test_first_load_stores_what_the_general_path_stores(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = generate_accounts(400, as_of=dt.date(2026, 11, 20), seed=11)
    # a few bad rows among the good ones, and debtors met again in later batches
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 37 == 5)
        .then(pl.lit("-1"))
        .otherwise(pl.col("principal"))
        .alias("principal")
    )
    path = write(frame, tmp_path / "accounts.csv")
    first = import_accounts(engine=engine, path=path, actor="t", now=NOW, batch_rows=64)
    built = _stored(engine)
    assert first.rows_rejected > 0 and first.rows_inserted == 400 - first.rows_rejected
    # emergency contacts and their phones (contact_points.person_id, the third column) are among them
    assert len(built["persons"]) > 0 and any(r[2] is not None for r in built["contact_points"])

    _empty(engine)
    prepare = accounts_import._prepare
    calls: list[bool] = []

    def general(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("first_load", False))
        return prepare(*args, **{**kwargs, "first_load": False})

    monkeypatch.setattr(accounts_import, "_prepare", general)
    second = import_accounts(engine=engine, path=path, actor="t", now=NOW, batch_rows=64)
    assert calls == [True]  # the book was empty again: a first load, taken down the general path here
    assert second.counts() == first.counts()
    assert _stored(engine) == built
