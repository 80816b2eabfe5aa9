"""Benchmark: the audit log in the database, on SQLite and PostgreSQL.

1. appending events through ``record_events`` in batches (target ≥ 20,000 events/s), each batch its own
   transaction, as batch work writes them;
2. ``verify_log`` over the whole log (target: 1,000,000 events in ≤ 10 s), with one signed tree head
   every 100,000 events.

Run: ``.venv/bin/python benchmarks/bench_audit_store.py [--append N] [--verify N] [--database sqlite|postgresql]``
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

from sqlalchemy import Engine, create_engine, text

from arrears.audit.log import record_events
from arrears.audit.service import issue_checkpoint
from arrears.audit.tree_head import generate_signing_key
from arrears.audit.verify import verify_log
from arrears.store.db import UnitOfWork, make_engine, upgrade

APPEND_TARGET = 20_000
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


def run(kind: str, append: int, verify: int) -> None:
    with scratch(kind) as engine:
        seconds, cpu = fill(engine, append)
        print(f"{kind:10s} append  {append:>9,} events in batches of {BATCH:,}: {append / seconds:>9,.0f} events/s "
              f"(target ≥ {APPEND_TARGET:,}); client CPU {cpu / append * 1e6:.1f} µs/event")  # fmt: skip
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
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        run(kind, args.append, args.verify)


if __name__ == "__main__":
    main()
