"""The bulk writer on SQLite and PostgreSQL: exact round trip across statement boundaries, helpers."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
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


def _points(count: int, debtor_id: int) -> pl.DataFrame:
    # Varying ids and values beside columns that hold one value throughout: a constant string, a
    # constant aware time and an all-null column, which the SQLite writer binds once per statement.
    return pl.DataFrame(
        {
            "debtor_id": [debtor_id] * count,
            "person_id": pl.Series([None] * count, dtype=pl.Int64),
            "kind": ["phone"] * count,
            "place": ["mobile" if n % 3 else "home" for n in range(count)],
            "value": [f"+86138{n:08d}" for n in range(count)],
            "lookup": [None if n % 4 == 0 else f"+86138{n:08d}" for n in range(count)],
            "created_at": [NOW] * count,
        }
    )


def _debtor(conn: object) -> int:
    from sqlalchemy import Connection

    assert isinstance(conn, Connection)
    frame = pl.DataFrame(
        {
            "external_id": ["D1"], "jurisdiction": ["CN"], "language": ["zh"], "name": ["n"],
            "row_hash": ["h"], "created_at": [NOW], "updated_at": [NOW], "version": [1],
        }
    )  # fmt: skip
    ids = bulk.allocate_ids(conn, "debtors", 1)
    bulk.insert_frame(conn, "debtors", frame.with_columns(ids.alias("id")))
    return int(ids[0])


def test_insert_frame_binds_columns_of_one_value_once_and_stores_the_same_values(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        debtor = _debtor(uow.connection)
        frame = _points(1_234, debtor)
        ids = bulk.allocate_ids(uow.connection, "contact_points", frame.height)
        bulk.insert_frame(uow.connection, "contact_points", frame.with_columns(ids.alias("id")))
        uow.commit()
    c = tables.ContactPoint
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.debtor_id, c.person_id, c.kind, c.place, c.value, c.lookup, c.created_at).order_by(c.id)
        ).all()
    assert [tuple(r) for r in rows] == list(_points(1_234, debtor).iter_rows())
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            stored = conn.exec_driver_sql(
                "SELECT DISTINCT typeof(debtor_id), typeof(person_id), typeof(kind), typeof(created_at), "
                "created_at FROM contact_points"
            ).all()
        assert stored == [("integer", "null", "text", "text", "2026-06-20 09:30:15.123456")]


def test_insert_frame_of_one_row_and_of_only_constant_columns(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        debtor = _debtor(uow.connection)
        one = _points(1, debtor)
        same = _points(100, debtor).with_columns(pl.lit("home").alias("place"), pl.lit("x").alias("value"))
        ids = bulk.allocate_ids(uow.connection, "contact_points", 101)
        bulk.insert_frame(uow.connection, "contact_points", one.with_columns(ids[:1].alias("id")))
        # Every column but id holds one value.
        bulk.insert_frame(uow.connection, "contact_points", same.with_columns(ids[1:].alias("id")))
        uow.commit()
    c = tables.ContactPoint
    with engine.connect() as conn:
        rows = conn.execute(select(c.id, c.place, c.value).order_by(c.id)).all()
    assert [tuple(r) for r in rows] == [(int(ids[0]), "home", "+8613800000000")] + [
        (int(i), "home", "x") for i in ids[1:]
    ]


def _index_sql(conn: object, table: str) -> list[tuple[str, str]]:
    from sqlalchemy import Connection

    assert isinstance(conn, Connection)
    return sorted(
        conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,),
        ).all()
    )


def test_deferred_indexes_rebuilds_the_indexes_of_empty_tables_after_the_load(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        with UnitOfWork(engine) as uow, bulk.deferred_indexes(uow.connection, ["contact_points"]) as dropped:
            # PostgreSQL: a dropped index would lock readers out until commit; nothing is dropped.
            assert dropped == []
        return
    with engine.connect() as conn:
        before = {t: _index_sql(conn, t) for t in ("contact_points", "debtors")}
    assert [name for name, _sql in before["contact_points"]] == [
        "ix_contact_points_debtor_id",
        "ix_contact_points_lookup",
    ]
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        debtor = _debtor(conn)  # debtors is no longer empty: its indexes stay
        with bulk.deferred_indexes(conn, ["contact_points", "debtors"]) as dropped:
            assert dropped == ["ix_contact_points_debtor_id", "ix_contact_points_lookup"]
            assert _index_sql(conn, "contact_points") == []
            assert _index_sql(conn, "debtors") == before["debtors"]
            frame = _points(600, debtor)
            ids = bulk.allocate_ids(conn, "contact_points", frame.height)
            bulk.insert_frame(conn, "contact_points", frame.with_columns(ids.alias("id")))
        assert _index_sql(conn, "contact_points") == before["contact_points"]
        uow.commit()
    with engine.connect() as conn:
        assert {t: _index_sql(conn, t) for t in before} == before
        # The rebuilt index answers lookups.
        plan = " ".join(
            str(r[-1])
            for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM contact_points WHERE lookup = '+8613800000001'"
            )
        )
        assert "ix_contact_points_lookup" in plan
        assert conn.exec_driver_sql("SELECT count(*) FROM contact_points").scalar_one() == 600


def test_deferred_indexes_are_back_when_the_load_fails(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        before = _index_sql(conn, "contact_points")
    with pytest.raises(RuntimeError, match="disk full"), UnitOfWork(engine) as uow:
        conn = uow.connection
        with bulk.deferred_indexes(conn, ["contact_points"]):
            assert _index_sql(conn, "contact_points") == []
            raise RuntimeError("disk full")
    with engine.connect() as conn:
        assert _index_sql(conn, "contact_points") == before


def test_allocate_ids_returns_every_drawn_id_when_the_range_has_gaps(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        first = bulk.allocate_ids(conn, "products", 5).to_list()
        assert first == list(range(first[0], first[0] + 5))
        if engine.dialect.name == "postgresql":
            # Another session drawing between our draws leaves gaps; a larger step does the same here.
            conn.exec_driver_sql("ALTER SEQUENCE products_id_seq INCREMENT BY 3")
            spaced = bulk.allocate_ids(conn, "products", 4).to_list()
            assert spaced == [spaced[0] + 3 * n for n in range(4)]
            assert spaced[0] > first[-1]
