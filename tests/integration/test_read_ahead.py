"""``read_ahead``: each slice's read, in slice order, the next one on a second connection while the
caller works inside its transaction; errors reach the caller; one slice or an in-memory database is
read on the caller's connection."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from arrears.cycle.frames import read_ahead
from arrears.store.db import UnitOfWork, make_engine

SLICES = [(0, 10), (10, 20), (20, 30), (30, 40)]


@pytest.fixture
def filled(engine: Engine) -> Iterator[Engine]:
    """``engine`` with a scratch table of 40 rows, dropped afterwards."""
    _fill(engine)
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE ahead_rows"))


def _fill(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE ahead_rows (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"))
        conn.execute(
            text("INSERT INTO ahead_rows (id, value) VALUES (:id, :value)"),
            [{"id": i, "value": i * i} for i in range(40)],
        )


def _values(conn: Connection, _ctx: Any, ids: tuple[int, int]) -> tuple[list[int], int]:
    rows = conn.execute(
        text("SELECT value FROM ahead_rows WHERE id >= :lo AND id < :hi ORDER BY id"),
        {"lo": ids[0], "hi": ids[1]},
    ).scalars()
    return list(rows), threading.get_ident()


def test_slices_read_in_order_the_next_one_on_a_second_connection(filled: Engine) -> None:
    engine = filled
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        seen = []
        for ids, (values, thread) in read_ahead(conn, None, SLICES, _values):
            # The caller writes inside its transaction between reads, as the cycle's steps do.
            conn.execute(
                text("UPDATE ahead_rows SET value = -1 WHERE id >= :lo AND id < :hi"),
                {"lo": ids[0], "hi": ids[1]},
            )
            seen.append((ids, values, thread))
        uow.commit()
    assert [s[0] for s in seen] == SLICES
    assert [s[1] for s in seen] == [[i * i for i in range(lo, hi)] for lo, hi in SLICES]
    here = threading.get_ident()
    assert seen[0][2] == here
    assert {s[2] for s in seen[1:]} == {seen[1][2]} != {here}
    with engine.connect() as conn:
        assert set(conn.execute(text("SELECT value FROM ahead_rows")).scalars()) == {-1}


def test_a_failed_read_reaches_the_caller(filled: Engine) -> None:
    engine = filled

    def failing(conn: Connection, ctx: Any, ids: tuple[int, int]) -> tuple[list[int], int]:
        if ids == SLICES[2]:
            raise ValueError("slice 3 unreadable")
        return _values(conn, ctx, ids)

    got = []
    before = set(threading.enumerate())
    with UnitOfWork(engine) as uow, pytest.raises(ValueError, match="slice 3 unreadable"):
        for ids, _ in read_ahead(uow.connection, None, SLICES, failing):
            got.append(ids)
    assert got == SLICES[:2]
    # The reading thread is gone with the step.
    assert [t for t in threading.enumerate() if t not in before] == []


def test_one_slice_reads_on_the_callers_connection(filled: Engine) -> None:
    with filled.connect() as conn:
        threads = {thread for _, (_, thread) in read_ahead(conn, None, [(0, 40)], _values)}
    assert threads == {threading.get_ident()}


def test_an_in_memory_database_reads_on_the_callers_connection() -> None:
    engine = make_engine("sqlite://")
    _fill(engine)
    with engine.connect() as conn:
        got = list(read_ahead(conn, None, SLICES, _values))
    assert [values for _, (values, _) in got] == [[i * i for i in range(lo, hi)] for lo, hi in SLICES]
    assert {thread for _, (_, thread) in got} == {threading.get_ident()}
