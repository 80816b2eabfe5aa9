"""Benchmark: the audit log in the database, on SQLite and PostgreSQL.

1. appending events through ``record_events`` in batches (target ≥ 20,000 events/s), each batch its own
   transaction, as batch work writes them;
2. ``verify_log`` over the whole log (target: 1,000,000 events in ≤ 10 s), with one signed tree head
   every 100,000 events;
3. ``record_events`` of one batch of case events shaped like the daily cycle's (``case.open`` from
   :func:`arrears.cases.service.open_cases`: one actor, one time, the stage and the account in each),
   as µs of this process's CPU per event (target ≤ 15 µs/event), with ``--cases N`` (default 100,000),
   next to the per-event path (the one :func:`~arrears.audit.log.record_event` takes) and to
   :func:`~arrears.audit.log.record_event_frame` (the same events as a frame, the cycle's way) on the
   same database: the least of three alternating runs of each.

Run: ``.venv/bin/python benchmarks/bench_audit_store.py [--append N] [--verify N] [--cases N]
[--database sqlite|postgresql]`` (``--append 0 --verify 0`` runs the case events alone).
PostgreSQL is taken from ``ARREARS_BENCH_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432``); a
scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
from sqlalchemy import Engine, create_engine, text

from arrears.audit.log import _append, record_event_frame, record_events
from arrears.audit.service import issue_checkpoint
from arrears.audit.tree_head import generate_signing_key
from arrears.audit.verify import verify_log
from arrears.store.db import UnitOfWork, make_engine, upgrade

APPEND_TARGET = 20_000
CASE_TARGET_US = 15.0
VERIFY_TARGET_SECONDS = 10.0
BATCH = 10_000
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
PG = os.environ.get("ARREARS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")


@contextmanager
def scratch(kind: str) -> Iterator[Engine]:
    """A new, upgraded database of the given kind, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            upgrade(engine)
            yield engine
            engine.dispose()
        return
    name = f"arrears_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        PG.replace("postgresql://", "postgresql+psycopg://") + "/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        engine = make_engine(f"{PG}/{name}")
        upgrade(engine)
        yield engine
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def events(start: int, count: int) -> list[dict[str, Any]]:
    """Events shaped like a payment posting: a balance change on an account."""
    return [
        {
            "actor": f"user:{i % 97}",
            "action": "payment.recorded",
            "subject_type": "account",
            "subject_id": f"ACC-{i:08d}",
            "at": T0 + dt.timedelta(seconds=i),
            "before": {"balance_minor": 600_000 - i % 1000, "stage": "early"},
            "after": {"balance_minor": 500_000 - i % 1000, "stage": "promise"},
            "details": {"channel": "bank_transfer", "payment_id": f"P-{i}"},
        }
        for i in range(start, start + count)
    ]


def case_events(count: int) -> list[dict[str, Any]]:
    """Events shaped like the cycle's first day: one ``case.open`` per new case (``open_cases``)."""
    at = T0 + dt.timedelta(hours=2)
    return [
        {
            "actor": "cycle",
            "action": "case.open",
            "subject_type": "case",
            "subject_id": str(case_id),
            "at": at,
            "after": {"stage": "new", "creditor": "bank", "owner": None, "owner_kind": "team"},
            "details": {"accounts": [f"ACC-{case_id:08d}"], "as_of": "2025-01-01", "bulk": True},
        }
        for case_id in range(1, count + 1)
    ]


def case_frame(count: int) -> pl.DataFrame:
    """:func:`case_events` as the frame :func:`record_event_frame` takes (how the cycle writes them)."""
    ids = pl.int_range(1, count + 1, eager=True)
    return pl.DataFrame({"case_id": ids}).select(
        pl.lit("cycle").alias("actor"),
        pl.lit("case.open").alias("action"),
        pl.lit("case").alias("subject_type"),
        pl.col("case_id").cast(pl.String).alias("subject_id"),
        pl.struct(
            pl.lit("new").alias("stage"),
            pl.lit("bank").alias("creditor"),
            pl.lit(None).alias("owner"),
            pl.lit("team").alias("owner_kind"),
        ).alias("after"),
        pl.struct(
            pl.concat_list(pl.lit("ACC-") + pl.col("case_id").cast(pl.String).str.zfill(8)).alias("accounts"),
            pl.lit("2025-01-01").alias("as_of"),
            pl.lit(True).alias("bulk"),
        ).alias("details"),
    )


def time_cases(engine: Engine, count: int, rounds: int = 3) -> dict[str, float]:
    """CPU µs per event (+ commit) over ``count`` case events: ``record_events`` (``batch``), the
    per-event path of :func:`record_event` (``single``) and :func:`record_event_frame` (``frame``),
    alternating on the same database; the least of ``rounds`` runs of each, so that other load on
    the machine counts as little as possible."""
    batch = case_events(count)
    frame = case_frame(count)
    at = batch[0]["at"]
    best = {"batch": float("inf"), "single": float("inf"), "frame": float("inf")}
    for _ in range(rounds):
        for way in best:
            began = time.process_time()
            with UnitOfWork(engine) as uow:
                if way == "frame":
                    record_event_frame(uow.session, frame, at=at)
                else:
                    _append(uow.session, batch, one_by_one=way == "single")
                uow.commit()
            best[way] = min(best[way], time.process_time() - began)
    return {way: seconds / count * 1e6 for way, seconds in best.items()}


def fill(engine: Engine, total: int, heads_every: int | None = None) -> tuple[float, float]:
    """Append ``total`` events in batches; returns the wall-clock and this process's CPU seconds spent
    inside ``record_events`` + commit (the CPU figure leaves out the database server and other load)."""
    key = generate_signing_key()
    spent = cpu = 0.0
    for start in range(0, total, BATCH):
        batch = events(start, min(BATCH, total - start))
        began, began_cpu = time.perf_counter(), time.process_time()
        with UnitOfWork(engine) as uow:
            record_events(uow.session, batch)
            uow.commit()
        spent += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        if heads_every and (start + BATCH) % heads_every == 0:
            with UnitOfWork(engine) as uow:
                issue_checkpoint(uow.session, at=T0 + dt.timedelta(days=1, seconds=start), key=key)
                uow.commit()
    return spent, cpu


def run(kind: str, append: int, verify: int, cases: int) -> None:
    if cases:
        with scratch(kind) as engine:
            us = time_cases(engine, cases)
            print(f"{kind:10s} cases   {cases:>9,} case.open events in one record_events: {us['batch']:6.1f} µs/event CPU "
                  f"(target ≤ {CASE_TARGET_US:.0f}); per-event path {us['single']:6.1f}; "
                  f"as one frame (record_event_frame) {us['frame']:6.1f} µs/event CPU")  # fmt: skip
    if append:
        with scratch(kind) as engine:
            seconds, cpu = fill(engine, append)
            print(f"{kind:10s} append  {append:>9,} events in batches of {BATCH:,}: {append / seconds:>9,.0f} events/s "
                  f"(target ≥ {APPEND_TARGET:,}); client CPU {cpu / append * 1e6:.1f} µs/event")  # fmt: skip
    if not verify:
        return
    with scratch(kind) as engine:
        fill(engine, verify, heads_every=100_000)
        began, began_cpu = time.perf_counter(), time.process_time()
        with engine.connect() as conn:
            report = verify_log(conn)
        seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        assert report.is_intact, report.problems[:3]
        print(f"{kind:10s} verify  {report.events:>9,} events, {report.heads_checked} heads: {seconds:6.2f} s "
              f"(target ≤ {VERIFY_TARGET_SECONDS:.0f} s); client CPU {cpu:.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--append", type=int, default=100_000, help="events appended for the rate")
    parser.add_argument("--verify", type=int, default=1_000_000, help="events in the verified log")
    parser.add_argument("--cases", type=int, default=100_000, help="case events in one record_events")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        run(kind, args.append, args.verify, args.cases)


if __name__ == "__main__":
    main()
