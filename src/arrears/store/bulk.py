"""Bulk writes of whole Polars frames inside the caller's transaction, and whole-column reads.

SQLite gets multi-row ``INSERT`` statements on the raw driver connection; PostgreSQL gets
``COPY ... FROM STDIN``. Ids are reserved up front (a sequence range on PostgreSQL; the write lock
taken by the unit of work on SQLite) so that child rows can be written in the same pass without
reading ids back. :func:`sqlite_columns` and :func:`postgres_columns` read a query's result as text
that Polars parses whole (one JSON array per column from SQLite, ``COPY ... TO STDOUT`` CSV from
PostgreSQL) instead of making one Python object per value.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
from sqlalchemy import JSON, Connection, Executable, Select, Table, bindparam, func, select, update
from sqlalchemy.exc import OperationalError

__all__ = [
    "ANALYZE_FROM_ROWS",
    "ANALYZE_LOCK_WAIT",
    "allocate_ids",
    "analyze_after_load",
    "deferred_indexes",
    "insert_frame",
    "is_empty",
    "postgres_columns",
    "sqlite_columns",
    "tune_for_bulk",
    "update_from_frame",
    "update_rows",
]

_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%6f"
_SQLITE_MAX_VARIABLES = 32_000  # SQLite >= 3.32 allows 32,766 bound parameters per statement
_SQLITE_ROWS_PER_STATEMENT = 500
_FOLD_CONSTANTS_FROM = 64  # rows; below this, checking columns for one repeated value is not worth it


def allocate_ids(conn: Connection, table: str, count: int) -> pl.Series:
    """Reserve ``count`` new primary keys for ``table``; returns them as an Int64 series."""
    if count == 0:
        return pl.Series("id", [], dtype=pl.Int64)
    if conn.dialect.name == "postgresql":
        # One nextval per id keeps concurrent writers safe; only the range comes back when it is
        # contiguous (no other session drew from the sequence meanwhile), else every value, in order.
        # The sequence is looked up once (a materialised CTE): as nextval's argument the lookup
        # would run for every id drawn, at several times the cost of drawing it.
        low, high, values = conn.exec_driver_sql(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%(table)s, 'id')::regclass AS seq), "
            "drawn AS (SELECT nextval(s.seq) AS v FROM s, generate_series(1, %(count)s)) "
            "SELECT min(v), max(v), CASE WHEN max(v) - min(v) + 1 = count(*) THEN NULL "
            "ELSE array_agg(v ORDER BY v) END FROM drawn",
            {"table": table, "count": int(count)},
        ).one()
        if values is None:
            return pl.Series("id", range(int(low), int(high) + 1), dtype=pl.Int64)
        return pl.Series("id", values, dtype=pl.Int64)
    start = conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").scalar_one()
    return pl.Series("id", range(int(start) + 1, int(start) + 1 + count), dtype=pl.Int64)


def _json_dtype(dtype: Any) -> Any:
    """The type a column of ``dtype`` is decoded as from SQLite's JSON, or None when JSON cannot carry it
    exactly or cheaply: SQLite writes reals with 15 significant digits, and bytes (not JSON values) as
    hexadecimal text cost more to build and decode than fetching them as rows."""
    if dtype == pl.String or dtype.is_integer():
        return dtype
    if dtype == pl.Boolean:
        return pl.Int8  # stored as 0/1
    return None


def sqlite_columns(conn: Connection, query: Executable, schema: Mapping[str, Any]) -> pl.DataFrame | None:
    """The result of ``query`` on SQLite as a frame of ``schema``, read column by column; None if this
    way does not apply (another database, a real or bytes column, a statement that is not a SELECT,
    or a column too large for one SQLite value), and the caller reads rows instead.

    One aggregate over the query, ``SELECT json_group_array(c1), json_group_array(c2), ... FROM
    (query)``, returns each column as one JSON array text, which Polars decodes into a typed column.
    Every row feeds every aggregate in the same pass, so the columns stay aligned, in the query's
    order. Reading a value costs SQLite a few bytes of text instead of a Python object per value:
    on a book's worth of rows this takes about a third of the time of fetching rows. Values come
    back as stored: integers exact, text unchanged, NULL as null.
    """
    if conn.dialect.name != "sqlite" or not isinstance(query, Select):
        return None
    decode = {name: _json_dtype(dtype) for name, dtype in schema.items()}
    if any(d is None for d in decode.values()):
        return None
    inner = query.subquery()
    columns = list(inner.c)
    if len(columns) != len(schema):
        return None
    try:
        texts = conn.execute(select(*(func.json_group_array(c) for c in columns))).one()
    except OperationalError:  # a value too big for one SQLite string, a BLOB: read rows instead
        return None
    series = []
    for (name, dtype), text in zip(schema.items(), texts, strict=True):
        values = pl.Series(name, [text]).str.json_decode(pl.List(decode[name])).explode()
        series.append(values if values.dtype == dtype else values.cast(dtype))
    return pl.DataFrame(series)


_PG_CSV_TEXT = (pl.Date, pl.Binary, pl.Boolean)  # read as text from COPY's CSV, then converted


def postgres_columns(conn: Connection, query: Executable, schema: Mapping[str, Any]) -> pl.DataFrame | None:
    """The result of ``query`` on PostgreSQL as a frame of ``schema``, through ``COPY (query) TO STDOUT``
    in CSV, parsed by Polars; None if this way does not apply (another database, a statement that is
    not a SELECT, a column type it does not read, or text Polars cannot parse as the schema says),
    and the caller reads rows instead.

    Every non-null value is quoted (``FORCE_QUOTE *``), so a null (an empty unquoted field) and an
    empty string stay apart. Integers, reals (PostgreSQL writes the shortest text that reads back
    to the same double), text, dates (ISO), flags (``t``/``f``), bytes (``\\x`` and hexadecimal)
    and aware times (ISO with the offset, taken to the schema's zone) are read. The statement's
    parameters go through their column types' conversions and are bound by the driver, as for any
    query; the read is inside the caller's transaction and sees its writes.
    """
    if conn.dialect.name != "postgresql" or not isinstance(query, Select):
        return None
    for dtype in schema.values():
        readable = dtype in (pl.String, pl.Float64, *_PG_CSV_TEXT) or dtype.is_integer()
        if not (readable or (isinstance(dtype, pl.Datetime) and dtype.time_zone is not None)):
            return None
    if len(query.selected_columns) != len(schema):
        return None
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = dict(compiled.params)
    # The column types' own conversions of bound values (aware times to UTC, decimals to text).
    processors: Mapping[str, Any] = compiled._bind_processors
    for key, process in processors.items():
        if key in params and callable(process):
            params[key] = process(params[key])
    raw: Any = conn.connection.driver_connection
    buffer = io.BytesIO()
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)", params) as copy,
    ):
        for block in copy:
            buffer.write(block)
    text_schema = {
        name: pl.String if dtype in _PG_CSV_TEXT or isinstance(dtype, pl.Datetime) else dtype
        for name, dtype in schema.items()
    }
    if buffer.tell() == 0:
        return pl.DataFrame(schema=dict(schema))
    try:
        frame = pl.read_csv(buffer.getvalue(), has_header=False, schema=text_schema)
        converted = []
        for name, dtype in schema.items():
            column = pl.col(name)
            if dtype == pl.Date:
                converted.append(column.str.to_date("%Y-%m-%d"))
            elif dtype == pl.Boolean:
                converted.append(column.replace_strict({"t": True, "f": False}, return_dtype=pl.Boolean))
            elif dtype == pl.Binary:
                converted.append(column.str.strip_prefix("\\x").str.decode("hex"))
            elif isinstance(dtype, pl.Datetime):
                parsed = column.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%#z", time_unit=dtype.time_unit or "us")
                converted.append(parsed.dt.convert_time_zone(str(dtype.time_zone)))
        return frame.with_columns(converted) if converted else frame
    except pl.exceptions.PolarsError:  # text in a form the schema does not expect: read rows instead
        return None


ANALYZE_FROM_ROWS = 10_000
"""Rows written to one table in one load from which :func:`analyze_after_load` refreshes its statistics."""

ANALYZE_LOCK_WAIT = "5s"
"""How long :func:`analyze_after_load` waits for the table's statistics lock before leaving it."""

_LOCK_NOT_AVAILABLE = "55P03"


def analyze_after_load(
    conn: Connection, table: str, rows: int, *, lock_wait: str = ANALYZE_LOCK_WAIT
) -> bool:
    """Refresh PostgreSQL's planner statistics of ``table`` after a load of ``rows`` rows, inside the
    caller's transaction (which the sample sees, its own rows included); returns whether it did.

    The daily cycle writes each day's rows under a key value the statistics have never seen (the
    day). Until autovacuum gets to the table, the planner then expects one row for today, and may
    join a million rows against them by a nested loop: on a million accounts, the payoff query of
    the day after a book's first day ran for more than ten minutes instead of a second. ``ANALYZE``
    reads a fixed sample (a few tenths of a second at that size). Loads under
    :data:`ANALYZE_FROM_ROWS` rows, and SQLite (whose planner keeps no such statistics unless asked),
    are left alone.

    ``ANALYZE`` takes a lock that a running ``VACUUM`` of the table also holds (an anti-wraparound
    vacuum of a large table can run for an hour). It waits at most ``lock_wait`` for it, inside a
    savepoint; if the lock does not come, the refresh is left out, the transaction carries on
    unharmed, and the function returns False.
    """
    if conn.dialect.name != "postgresql" or rows < ANALYZE_FROM_ROWS:
        return False
    previous = conn.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar_one()
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql("SELECT set_config('lock_timeout', %s, true)", (lock_wait,))
        conn.exec_driver_sql(f"ANALYZE {table}")
    except OperationalError as exc:
        savepoint.rollback()  # the setting made inside it goes with it
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        return False
    savepoint.commit()
    conn.exec_driver_sql("SELECT set_config('lock_timeout', %s, true)", (previous,))
    return True


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


@contextmanager
def deferred_indexes(conn: Connection, tables: Sequence[str]) -> Iterator[list[str]]:
    """Build the secondary indexes of tables that start empty once, after a bulk load (SQLite only).

    Inside the caller's transaction, the non-unique indexes of each table in ``tables`` that has no
    rows yet are dropped and, when the block ends normally, created again from their stored
    definitions: one sorted build instead of an index insert per row (keys such as lookup hashes
    arrive in random order). Unique constraints stay in force throughout. SQLite's DDL is
    transactional, so a rollback restores the indexes as they were, and the write lock the unit of
    work holds keeps other writers out; readers keep their snapshot. PostgreSQL is left alone (a
    dropped index would lock the table against readers until commit). Yields the dropped index names.
    """
    if conn.dialect.name != "sqlite":
        yield []
        return
    dropped: list[tuple[str, str]] = []
    for table in tables:
        if not is_empty(conn, table):
            continue
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,),
        ).all()
        for name, sql in rows:
            if sql.lstrip().upper().startswith("CREATE INDEX"):
                dropped.append((name, sql))
    for name, _sql in dropped:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield [name for name, _sql in dropped]
    for _name, sql in dropped:
        conn.exec_driver_sql(sql)


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
        frame = df.select([_copy_text(n, t) for n, t in df.schema.items()])
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False, null_value="", quote_style="non_numeric")
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy,
        ):
            copy.write(buffer.getvalue())
        return df.height
    _insert_sqlite(raw, table, df)
    return df.height


def _copy_text(name: str, dtype: Any) -> pl.Expr:
    """A column as COPY's CSV reads it: aware times with their offset, bytes in bytea's hex form."""
    column = pl.col(name)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return column.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
    if dtype == pl.Binary:
        return (pl.lit("\\x") + column.bin.encode("hex")).alias(name)
    return column


def _is_constant(column: pl.Series) -> bool:
    """Whether every value of ``column`` is the same (all null counts as the same)."""
    nulls = column.null_count()
    if nulls == column.len():
        return True
    dtype = column.dtype
    if nulls or not (dtype.is_numeric() or dtype.is_temporal() or dtype in (pl.String, pl.Boolean)):
        return False
    return bool(column[0] == column[-1]) and column.n_unique() == 1


def _insert_sqlite(raw: Any, table: str, df: pl.DataFrame) -> None:
    """Multi-row INSERT statements over values converted column by column.

    A column holding one value in every row (a timestamp, a kind, a null) is bound once per statement
    instead of once per row: ``INSERT ... SELECT column1, ?, ... FROM (VALUES (...), ...)``. Either way
    SQLite applies the table's column affinity to the same bound Python values.
    """
    varying = list(df.columns)
    constants: dict[str, Any] = {}
    if df.height >= _FOLD_CONSTANTS_FROM:
        same = [name for name in df.columns if _is_constant(df[name])]
        if len(same) < len(varying):
            varying = [name for name in varying if name not in same]
            constants = _prepare_sqlite(df.head(1).select(same)).row(0, named=True) if same else {}
    df = _prepare_sqlite(df.select(varying))
    width = len(varying)
    per_statement = max(1, min(_SQLITE_ROWS_PER_STATEMENT, (_SQLITE_MAX_VARIABLES - len(constants)) // width))
    names = ", ".join([*varying, *constants])
    row_sql = "(" + ", ".join("?" for _ in varying) + ")"
    if constants:
        picked = ", ".join([*(f"column{i}" for i in range(1, width + 1)), *("?" for _ in constants)])
        head = f"INSERT INTO {table} ({names}) SELECT {picked} FROM (VALUES "
        tail = ")"
    else:
        head, tail = f"INSERT INTO {table} ({names}) VALUES ", ""
    fixed = list(constants.values())
    # Row-major flat values built by strided slice assignment: one Python list per column, no tuples.
    flat: list[Any] = [None] * (df.height * width)
    for offset, name in enumerate(varying):
        flat[offset::width] = df[name].to_list()
    full_sql = head + ", ".join([row_sql] * per_statement) + tail
    step = per_statement * width
    cursor = raw.cursor()
    try:
        for start in range(0, len(flat), step):
            values = flat[start : start + step]
            height = len(values) // width
            sql = full_sql if height == per_statement else head + ", ".join([row_sql] * height) + tail
            cursor.execute(sql, fixed + values if fixed else values)
    finally:
        cursor.close()


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


def update_from_frame(conn: Connection, table: Table, key: str, df: pl.DataFrame) -> int:
    """Set the other columns of ``df`` on the rows of ``table`` whose ``key`` matches; returns rows updated.

    The frame is loaded with :func:`insert_frame` (COPY on PostgreSQL) into a temporary table whose
    columns have the target's types, then one ``UPDATE ... FROM`` joins it on ``key``: a statement per
    call instead of one per row. The values arrive as :func:`insert_frame` writes them, so they are
    stored exactly as an insert of the same frame would store them (on SQLite the staged columns keep
    the target's declared types, hence its affinities). ``version`` is bumped where the table has one,
    so optimistic locks held elsewhere see the change.
    """
    if df.height == 0:
        return 0
    settable = [c for c in df.columns if c != key]
    if not settable:
        raise ValueError("update_from_frame needs at least one column besides the key")
    staging = f"_update_{table.name}"
    ddl = ", ".join(f"{name} {table.c[name].type.compile(dialect=conn.dialect)}" for name in df.columns)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {staging}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {staging} ({ddl})")
    insert_frame(conn, staging, df)
    assignments = [f"{c} = s.{c}" for c in settable]
    if "version" in table.c and "version" not in settable:
        assignments.append(f"version = {table.name}.version + 1")
    updated = conn.exec_driver_sql(
        f"UPDATE {table.name} SET {', '.join(assignments)} FROM {staging} AS s "
        f"WHERE {table.name}.{key} = s.{key}"
    ).rowcount
    conn.exec_driver_sql(f"DROP TABLE {staging}")
    return int(updated)
