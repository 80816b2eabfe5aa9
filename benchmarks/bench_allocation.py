"""Build a day's work queues: N call tasks across C collectors, on a fresh database.

    python benchmarks/bench_allocation.py [N] [C] [DATABASE_URL]
        (default 100,000 tasks, 200 collectors, a temporary SQLite file)

Prints seconds for the pure part (order by expected recovery and urgency, match skills, assign by each
method) and for the whole ``build_queues`` call (read loads, order, assign, bulk insert, audit event)
by round robin, then for a rerun of the same day (which must add nothing). Accounts, collectors and
tasks are synthetic and seeded; collectors speak one or two of three languages and cover two of four
buckets (a quarter of them take any bucket), and their capacities add up to about 90% of the tasks.
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from arrears.allocation.rules import AssignmentMethod, assign_matched, order_queue
from arrears.allocation.service import add_collector, add_team, build_queues, collectors_frame
from arrears.portfolio.products import ensure_builtin_products
from arrears.store import bulk, personal
from arrears.store.db import UnitOfWork, make_engine, upgrade

NOW = dt.datetime(2026, 6, 20, 8, 0, tzinfo=dt.UTC)
AS_OF = NOW.date()
LANGUAGES = ["zh", "en", "es"]
BUCKETS = ["M1", "M2", "M3", "M4"]


def seed_accounts(engine: object, n: int) -> None:
    """``n`` open accounts with one debtor each, written in bulk."""
    ids = pl.Series("id", range(1, n + 1), dtype=pl.Int64)
    names = personal.codec().seal_column(personal.PersonalKind.NAME, pl.Series([f"debtor {i}" for i in ids]))
    debtors = pl.DataFrame(
        {
            "id": ids, "external_id": [f"D{i}" for i in ids], "jurisdiction": "CN", "timezone": "Asia/Shanghai",
            "language": "zh", "name": names, "row_hash": "x" * 32, "created_at": NOW, "updated_at": NOW,
            "version": 1,
        }
    )  # fmt: skip
    accounts = pl.DataFrame(
        {
            "id": ids, "external_id": [f"A{i}" for i in ids], "debtor_id": ids, "product_code": "cn-consumer-loan",
            "currency": "CNY", "principal_minor": 100_000, "annual_rate": "0.12", "term_months": 12,
            "schedule_method": "manual", "opened_on": dt.date(2025, 1, 1), "first_due_on": dt.date(2025, 2, 1),
            "schedule": b"", "charged_through_on": dt.date(2025, 1, 1),
            "status": "open", "row_hash": "y" * 32, "created_at": NOW, "updated_at": NOW, "version": 1,
        }
    )  # fmt: skip
    with UnitOfWork(engine) as uow:  # type: ignore[arg-type]
        ensure_builtin_products(uow.session, now=NOW)
        bulk.insert_frame(uow.connection, "debtors", debtors)
        bulk.insert_frame(uow.connection, "accounts", accounts)
        uow.commit()


def seed_collectors(engine: object, count: int, total_capacity: int, rng: np.random.Generator) -> None:
    per = max(1, total_capacity // count)
    with UnitOfWork(engine) as uow:  # type: ignore[arg-type]
        add_team(uow.session, code="bench", name="Bench team", actor="bench", now=NOW)
        for i in range(count):
            langs = list(rng.choice(LANGUAGES, size=int(rng.integers(1, 3)), replace=False))
            buckets = [] if i % 4 == 0 else list(rng.choice(BUCKETS, size=2, replace=False))
            add_collector(
                uow.session, code=f"c{i:03d}", team="bench", daily_capacity=per, languages=langs, buckets=buckets,
                score=int(rng.integers(0, 1000)), actor="bench", now=NOW,
            )  # fmt: skip
        uow.commit()


def tasks(n: int, rng: np.random.Generator) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": np.arange(1, n + 1, dtype=np.int64),
            "balance_minor": rng.integers(1_000, 5_000_000, n),
            "pay_probability": pl.Series((rng.integers(0, 1_000_000, n) / 1_000_000).astype(str)),
            "urgency": rng.integers(0, 10, n),
            "language": rng.choice(LANGUAGES, n, p=[0.7, 0.2, 0.1]),
            "bucket": rng.choice(BUCKETS, n, p=[0.5, 0.25, 0.15, 0.1]),
            "action_id": "call",
        }
    )


def main(n: int, count: int, url: str | None) -> None:
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        started = time.perf_counter()
        seed_accounts(engine, n)
        seed_collectors(engine, count, int(n * 0.9), rng)
        print(f"setup: {n:,} accounts and {count} collectors in {time.perf_counter() - started:.1f} s")
        work = tasks(n, rng)
        with engine.connect() as conn:
            collectors = collectors_frame(conn, day=AS_OF)
        for method in AssignmentMethod:
            started = time.perf_counter()
            assigned = assign_matched(order_queue(work), collectors, method=method)
            took = time.perf_counter() - started
            placed = assigned.get_column("collector_id").is_not_null().sum()
            print(f"pure order + assign ({method}): {took:.2f} s, {placed:,} of {n:,} assigned")
        for label in ("build_queues (round_robin)", "rerun of the same day"):
            started = time.perf_counter()
            with UnitOfWork(engine) as uow:
                report = build_queues(
                    uow.connection, as_of=AS_OF, work=work, method=AssignmentMethod.ROUND_ROBIN, now=NOW,
                    actor="bench",
                )  # fmt: skip
                uow.commit()
            took = time.perf_counter() - started
            print(f"{label} on {engine.dialect.name}: {took:.2f} s — queued {report.queued:,}, "
                  f"assigned {report.assigned:,}, unassigned {report.unassigned:,}")  # fmt: skip
        engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MiB")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 200,
        sys.argv[3] if len(sys.argv) > 3 else None,
    )
