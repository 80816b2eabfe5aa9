"""update_from_frame and allocate_ids on SQLite and PostgreSQL: exact values, untouched rows, versions."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Connection, Engine, Table, select

from arrears.store import bulk, tables
from arrears.store.db import UnitOfWork

NOW = dt.datetime(2026, 6, 20, 9, 30, 15, 123456, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 6, 21, 1, 2, 3, 654321, tzinfo=dt.UTC)
PRODUCTS: Table = tables.Product.__table__  # type: ignore[assignment]
POINTS: Table = tables.ContactPoint.__table__  # type: ignore[assignment]


def _products(conn: Connection, count: int) -> list[int]:
    frame = pl.DataFrame(
        {
            "code": [f"p-{n:05d}" for n in range(count)],
            "version": [1] * count,
            "definition": [f'{{"n": {n}}}' for n in range(count)],
            "created_at": [NOW] * count,
        }
    )
    ids = bulk.allocate_ids(conn, "products", count)
    bulk.insert_frame(conn, "products", frame.with_columns(ids.alias("id")))
    return [int(i) for i in ids]


def test_update_from_frame_sets_the_matched_rows_only_and_bumps_their_version(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        ids = _products(uow.connection, 1_234)
        # Every other row, the last one included, and a key that matches no row.
        changed = ids[1::2]
        frame = pl.DataFrame(
            {
                "id": [*changed, max(ids) + 1_000],
                "code": [f"q-{i}" for i in [*changed, 0]],
                "definition": ['{"changed": true}'] * (len(changed) + 1),
                "created_at": [LATER] * (len(changed) + 1),
            }
        )
        updated = bulk.update_from_frame(uow.connection, PRODUCTS, "id", frame)
        uow.commit()
    assert updated == len(changed) == 617
    p = tables.Product
    with engine.connect() as conn:
        rows = conn.execute(select(p.id, p.code, p.definition, p.created_at, p.version).order_by(p.id)).all()
    expected = [
        (i, f"q-{i}", {"changed": True}, LATER, 2) if n % 2 else (i, f"p-{n:05d}", {"n": n}, NOW, 1)
        for n, i in enumerate(ids)
    ]
    assert [tuple(r) for r in rows] == expected


def test_update_from_frame_stores_long_digit_strings_and_nulls_exactly(engine: Engine) -> None:
    # Text of digits beyond 64-bit range must stay text (no numeric affinity on SQLite's staging).
    digits = "1234567890123456789012345678901234567890"
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        debtor = pl.DataFrame(
            {
                "external_id": ["D1"], "jurisdiction": ["CN"], "language": ["zh"], "name": ["n"],
                "row_hash": ["h"], "created_at": [NOW], "updated_at": [NOW], "version": [1],
            }
        )  # fmt: skip
        debtor_id = int(bulk.allocate_ids(conn, "debtors", 1)[0])
        bulk.insert_frame(conn, "debtors", debtor.with_columns(pl.lit(debtor_id).alias("id")))
        points = pl.DataFrame(
            {
                "debtor_id": [debtor_id] * 3,
                "kind": ["phone"] * 3,
                "place": ["mobile"] * 3,
                "value": ["a", "b", "c"],
                "lookup": ["la", "lb", "lc"],
                "created_at": [NOW] * 3,
            }
        )
        ids = bulk.allocate_ids(conn, "contact_points", 3)
        bulk.insert_frame(conn, "contact_points", points.with_columns(ids.alias("id")))
        frame = pl.DataFrame(
            {"id": ids[:2], "value": [digits, "0042"], "lookup": pl.Series([None, "x"], dtype=pl.String)}
        )
        assert bulk.update_from_frame(conn, POINTS, "id", frame) == 2
        uow.commit()
    c = tables.ContactPoint
    with engine.connect() as conn:
        rows = conn.execute(select(c.value, c.lookup, c.created_at).order_by(c.id)).all()
        if engine.dialect.name == "sqlite":
            kinds = (
                conn.exec_driver_sql("SELECT typeof(value) FROM contact_points ORDER BY id").scalars().all()
            )
            assert kinds == ["text", "text", "text"]
    assert [tuple(r) for r in rows] == [(digits, None, NOW), ("0042", "x", NOW), ("c", "lc", NOW)]


def test_update_from_frame_of_no_rows_changes_nothing(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        ids = _products(uow.connection, 3)
        empty = pl.DataFrame(schema={"id": pl.Int64, "code": pl.String})
        assert bulk.update_from_frame(uow.connection, PRODUCTS, "id", empty) == 0
        uow.commit()
    p = tables.Product
    with engine.connect() as conn:
        rows = conn.execute(select(p.id, p.code, p.version).order_by(p.id)).all()
    assert [tuple(r) for r in rows] == [(i, f"p-{n:05d}", 1) for n, i in enumerate(ids)]


def test_allocate_ids_reserves_consecutive_distinct_ranges(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        first = _products(conn, 5)
        second = bulk.allocate_ids(conn, "products", 4).to_list()
        assert bulk.allocate_ids(conn, "products", 0).to_list() == []
    assert first == list(range(first[0], first[0] + 5))
    assert second == list(range(first[-1] + 1, first[-1] + 5))
