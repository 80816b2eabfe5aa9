"""Planner statistics refreshed after the cycle's bulk loads (PostgreSQL), so that a day's rows, under
a key value the statistics have not seen, are not estimated as one row."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from arrears.cycle.runner import STEPS, run_day
from arrears.store import bulk

from .test_cycle import NOW, setup


def _estimate(engine: Engine, day: dt.date) -> int:
    with engine.connect() as conn:
        plan = conn.execute(
            text("EXPLAIN (FORMAT JSON) SELECT * FROM stats_probe WHERE day = :d"), {"d": day}
        ).scalar_one()
    document = plan if isinstance(plan, list) else json.loads(plan)
    return int(document[0]["Plan"]["Plan Rows"])


def test_a_load_of_a_new_day_is_estimated_from_fresh_statistics(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        with engine.begin() as conn:
            assert bulk.analyze_after_load(conn, "accounts", 1_000_000) is False
        return
    first, second = dt.date(2026, 1, 1), dt.date(2026, 1, 2)
    rows = bulk.ANALYZE_FROM_ROWS * 2
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE stats_probe (day date NOT NULL, n bigint NOT NULL)")
            conn.exec_driver_sql("ALTER TABLE stats_probe SET (autovacuum_enabled = false)")
            conn.execute(
                text("INSERT INTO stats_probe SELECT :d, g FROM generate_series(1, :n) g"),
                {"d": first, "n": rows},
            )
            conn.exec_driver_sql("ANALYZE stats_probe")
        # the next day's load, left to the statistics of the first: one row expected for it
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO stats_probe SELECT :d, g FROM generate_series(1, :n) g"),
                {"d": second, "n": rows},
            )
            assert bulk.analyze_after_load(conn, "stats_probe", bulk.ANALYZE_FROM_ROWS - 1) is False
        assert _estimate(engine, second) == 1
        # the same load with the refresh: the plan expects what is there
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM stats_probe WHERE day = :d"), {"d": second})
            conn.exec_driver_sql("ANALYZE stats_probe")
            conn.execute(
                text("INSERT INTO stats_probe SELECT :d, g FROM generate_series(1, :n) g"),
                {"d": second, "n": rows},
            )
            assert bulk.analyze_after_load(conn, "stats_probe", rows) is True
        assert rows * 0.9 <= _estimate(engine, second) <= rows * 1.1
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS stats_probe")


def test_a_refresh_that_cannot_get_its_lock_is_left_out_and_the_load_kept(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    rows = bulk.ANALYZE_FROM_ROWS
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE stats_probe (day date NOT NULL, n bigint NOT NULL)")
        with engine.connect() as other, engine.connect() as conn:
            # what a running VACUUM of the table holds
            held = other.begin()
            other.exec_driver_sql("LOCK TABLE stats_probe IN SHARE UPDATE EXCLUSIVE MODE")
            with conn.begin():
                timeout = conn.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar_one()
                conn.execute(
                    text("INSERT INTO stats_probe SELECT :d, g FROM generate_series(1, :n) g"),
                    {"d": dt.date(2026, 1, 1), "n": rows},
                )
                assert bulk.analyze_after_load(conn, "stats_probe", rows, lock_wait="200ms") is False
                # the transaction carries on, with the lock wait it had
                assert conn.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar_one() == timeout
                conn.execute(text("INSERT INTO stats_probe VALUES (:d, 0)"), {"d": dt.date(2026, 1, 2)})
            held.rollback()
            with conn.begin():
                assert bulk.analyze_after_load(conn, "stats_probe", rows, lock_wait="200ms") is True
                assert conn.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar_one() == timeout
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM stats_probe").scalar_one() == rows + 1
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS stats_probe")


def test_the_runner_refreshes_the_tables_each_step_loaded(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(engine, tmp_path)
    monkeypatch.setattr(bulk, "ANALYZE_FROM_ROWS", 1)
    analysed: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("ANALYZE "):
            analysed.append(statement.removeprefix("ANALYZE "))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        report = run_day(engine, as_of=dt.date(2026, 6, 21), actor="tester", now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    expected = [
        table
        for step in STEPS
        for table, keys in step.loads
        if sum(int(report.steps[step.name].get(key) or 0) for key in keys) >= 1
    ]
    if engine.dialect.name == "postgresql":
        # the two accounts accrue, are snapshotted and get a case each
        assert expected[:4] == ["ledger_entries", "daily_positions", "cases", "case_accounts"]
        assert analysed == expected
    else:
        assert analysed == []
