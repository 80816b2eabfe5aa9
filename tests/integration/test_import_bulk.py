"""The bulk writer on SQLite and PostgreSQL: exact round trip across statement boundaries, helpers."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Engine, select

from arrears.store import bulk, tables
from arrears.store.db import UnitOfWork

NOW = dt.datetime(2026, 6, 20, 9, 30, 15, 123456, tzinfo=dt.UTC)


def _products(count: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "code": [f"p-{n:05d}" for n in range(count)],
            "version": [n % 7 + 1 for n in range(count)],
            "definition": [f'{{"n": {n}}}' for n in range(count)],
            "created_at": [NOW] * count,
        }
    )


def test_insert_frame_round_trips_every_row_across_statement_boundaries(engine: Engine) -> None:
    # 1,234 rows: more than one multi-row statement on SQLite, and a last statement that is not full.
    frame = _products(1_234)
    with UnitOfWork(engine) as uow:
        ids = bulk.allocate_ids(uow.connection, "products", frame.height)
        written = bulk.insert_frame(uow.connection, "products", frame.with_columns(ids.alias("id")))
        uow.commit()
    assert written == 1_234
    p = tables.Product
    with engine.connect() as conn:
        rows = conn.execute(select(p.id, p.code, p.version, p.created_at).order_by(p.id)).all()
    assert len(rows) == 1_234
    assert [r[1] for r in rows] == frame["code"].to_list()
    assert [r[2] for r in rows] == frame["version"].to_list()
    assert {r[3] for r in rows} == {NOW}
    assert [r[0] for r in rows] == list(range(rows[0][0], rows[0][0] + 1_234))


def test_is_empty_tells_an_empty_table_from_one_with_rows(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        assert bulk.is_empty(conn, "products") is True
        bulk.insert_frame(conn, "products", _products(1).with_columns(pl.lit(1, dtype=pl.Int64).alias("id")))
        assert bulk.is_empty(conn, "products") is False


def test_tune_for_bulk_enlarges_the_sqlite_page_cache_inside_a_transaction(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        conn.execute(select(tables.Product.id)).all()  # a transaction is open
        bulk.tune_for_bulk(conn)
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -262_144
        else:
            # PostgreSQL keeps its configured memory settings; the call changes nothing.
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
