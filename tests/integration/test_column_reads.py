"""Whole-column reads (bulk.sqlite_columns and bulk.postgres_columns, behind cycle.frames.read_frame):
the same frame as rows.

On PostgreSQL the same through ``COPY ... TO STDOUT`` (bulk.postgres_columns), reals, bytes and aware
times included. Values of every kind the column reader carries (integers across the 64-bit range, text with quotes,
backslashes, control characters and non-ASCII, nulls, booleans, dates kept as text) come back exactly
and in the query's order; the kinds it does not carry (reals, bytes) and other databases fall back to
reading rows with the same result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
)

from arrears.cycle.frames import _read_rows, read_frame
from arrears.store import bulk
from arrears.store.db import make_engine
from tests.conftest import _new_database

META = MetaData()
SAMPLE = Table(
    "sample",
    META,
    Column("id", Integer, primary_key=True),
    Column("amount", BigInteger),
    Column("label", String),
    Column("flag", Boolean),
    Column("due_on", Date),
    Column("ratio", Float),
    Column("blob", LargeBinary),
    Column("at", DateTime(timezone=True)),
)
SCHEMA: dict[str, Any] = {
    "id": pl.Int64,
    "amount": pl.Int64,
    "label": pl.String,
    "flag": pl.Boolean,
    "due_on": pl.Date,
}
ROW_VALUES: dict[str, Any] = {
    "amount": st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "label": st.none() | st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8")),
    "flag": st.none() | st.booleans(),
    "due_on": st.none() | st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)),
}
ROW = st.fixed_dictionaries(ROW_VALUES)


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('columns') / 'columns.db'}")
    META.create_all(engine)
    yield engine
    engine.dispose()


def _fill(conn: Connection, rows: list[dict[str, Any]]) -> None:
    conn.execute(SAMPLE.delete())
    if rows:
        conn.execute(insert(SAMPLE), [{"id": n + 1, **row} for n, row in enumerate(rows)])


def _query() -> Any:
    t = SAMPLE.c
    return select(t.id, t.amount, t.label, t.flag, t.due_on).order_by(t.id.desc())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, max_size=40))
def test_columns_read_the_same_frame_as_rows_in_the_query_order(
    sqlite_engine: Engine, rows: list[dict[str, Any]]
) -> None:
    with sqlite_engine.connect() as conn:
        _fill(conn, rows)
        columns = read_frame(conn, _query(), SCHEMA)
        raw = {**SCHEMA, "due_on": pl.String}
        assert bulk.sqlite_columns(conn, _query(), raw) is not None
        by_rows = _read_rows(conn, _query(), raw).with_columns(pl.col("due_on").str.to_date("%Y-%m-%d"))
        conn.rollback()
    expected = pl.DataFrame(
        [{"id": n + 1, **row} for n, row in reversed(list(enumerate(rows)))],
        schema=SCHEMA,
        orient="row",
    )
    assert columns.schema == pl.Schema(SCHEMA)
    assert columns.equals(expected)
    assert by_rows.equals(expected)


def test_an_empty_result_is_an_empty_frame_of_the_schema(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        _fill(conn, [])
        frame = bulk.sqlite_columns(conn, _query(), {**SCHEMA, "due_on": pl.String})
        conn.rollback()
    assert frame is not None
    assert frame.height == 0
    assert frame.schema == pl.Schema({**SCHEMA, "due_on": pl.String})


def test_reals_and_bytes_are_left_to_the_row_reader(sqlite_engine: Engine) -> None:
    t = SAMPLE.c
    with sqlite_engine.connect() as conn:
        _fill(conn, [{"amount": 1, "label": "a", "flag": True, "due_on": None}])
        conn.execute(SAMPLE.update().values(ratio=0.1 + 0.2, blob=b"\x00\xff"))
        assert bulk.sqlite_columns(conn, select(t.id, t.ratio), {"id": pl.Int64, "ratio": pl.Float64}) is None
        assert bulk.sqlite_columns(conn, select(t.id, t.blob), {"id": pl.Int64, "blob": pl.Binary}) is None
        frame = read_frame(
            conn, select(t.id, t.ratio, t.blob), {"id": pl.Int64, "ratio": pl.Float64, "blob": pl.Binary}
        )
        conn.rollback()
    # The row reader keeps every bit of the real (JSON text would keep 15 digits: 0.3).
    assert frame.rows() == [(1, 0.30000000000000004, b"\x00\xff")]


def test_a_bytes_value_in_a_text_column_falls_back_to_rows(sqlite_engine: Engine) -> None:
    t = SAMPLE.c
    with sqlite_engine.connect() as conn:
        _fill(conn, [{"amount": 1, "label": None, "flag": None, "due_on": None}])
        conn.exec_driver_sql("UPDATE sample SET label = x'00ff'")
        schema = {"id": pl.Int64, "label": pl.Binary}
        assert bulk.sqlite_columns(conn, select(t.id, t.label), {"id": pl.Int64, "label": pl.String}) is None
        assert read_frame(conn, select(t.id, t.label), schema).rows() == [(1, b"\x00\xff")]
        conn.rollback()


@pytest.fixture(scope="module")
def postgres_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    for url in _new_database("postgresql", tmp_path_factory.mktemp("pg")):
        engine = make_engine(url)
        META.create_all(engine)
        yield engine
        engine.dispose()


PG_ROW = st.fixed_dictionaries(
    {
        **ROW_VALUES,
        "ratio": st.none() | st.floats(allow_nan=False, allow_infinity=False),
        "blob": st.none() | st.binary(max_size=24),
        "at": st.none()
        | st.datetimes(
            min_value=dt.datetime(1970, 1, 1),
            max_value=dt.datetime(2200, 1, 1),
            timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=8))]),
        ),
    }
)
PG_SCHEMA: dict[str, Any] = {
    **SCHEMA,
    "ratio": pl.Float64,
    "blob": pl.Binary,
    "at": pl.Datetime("us", "Asia/Shanghai"),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(PG_ROW, max_size=30))
def test_postgres_copy_reads_the_same_frame_as_rows(
    postgres_engine: Engine, rows: list[dict[str, Any]]
) -> None:
    t = SAMPLE.c
    query = select(t.id, t.amount, t.label, t.flag, t.due_on, t.ratio, t.blob, t.at).order_by(t.id.desc())
    with postgres_engine.connect() as conn:
        _fill(conn, rows)
        copied = bulk.postgres_columns(conn, query, PG_SCHEMA)
        by_rows = _read_rows(conn, query, PG_SCHEMA)
        conn.rollback()
    expected = pl.DataFrame(
        [{"id": n + 1, **row} for n, row in reversed(list(enumerate(rows)))],
        schema={**PG_SCHEMA, "at": pl.Datetime("us", "UTC")},
        orient="row",
    ).with_columns(pl.col("at").dt.convert_time_zone("Asia/Shanghai"))
    assert copied is not None
    assert copied.schema == pl.Schema(PG_SCHEMA)
    assert copied.equals(expected)
    assert by_rows.equals(expected)


def test_postgres_copy_binds_parameters_through_their_types(postgres_engine: Engine) -> None:
    t = SAMPLE.c
    rows = [{"amount": n, "label": f"l{n}", "flag": None, "due_on": None, "at": None} for n in range(5)]
    since = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    query = (
        select(t.id, t.label)
        .where(t.label.in_(["l1", "l3", "l4"]), t.amount < 4, t.at.is_(None) | (t.at > since))
        .order_by(t.id)
    )
    with postgres_engine.connect() as conn:
        _fill(conn, rows)
        frame = bulk.postgres_columns(conn, query, {"id": pl.Int64, "label": pl.String})
        empty = bulk.postgres_columns(conn, query.where(t.amount > 99), {"id": pl.Int64, "label": pl.String})
        conn.rollback()
    assert frame is not None and frame.rows() == [(2, "l1"), (4, "l3")]
    assert (
        empty is not None
        and empty.height == 0
        and empty.schema == pl.Schema({"id": pl.Int64, "label": pl.String})
    )


def test_other_databases_read_rows(database_url: str) -> None:
    engine = make_engine(database_url)
    META.create_all(engine)
    try:
        with engine.connect() as conn:
            _fill(
                conn, [{"amount": 2**40, "label": '债务 "x"', "flag": False, "due_on": dt.date(2026, 11, 28)}]
            )
            if engine.dialect.name != "sqlite":
                assert bulk.sqlite_columns(conn, _query(), SCHEMA) is None
            else:
                assert bulk.postgres_columns(conn, _query(), SCHEMA) is None
            frame = read_frame(conn, _query(), SCHEMA)
            conn.rollback()
    finally:
        META.drop_all(engine)
        engine.dispose()
    assert frame.rows() == [(1, 2**40, '债务 "x"', False, dt.date(2026, 11, 28))]
