"""Figure: the daily cycle over N open accounts, per step, against a bare Polars pass (issue: 1,000,000
accounts in at most 60 s on SQLite and on PostgreSQL, under 4 GiB, aim at most 5x the bare pass).

Setup (not timed, in its own process): a synthetic portfolio is generated and imported, the sample
strategy (src/arrears/data/strategies/cn-consumer.yaml) is published and a team of collectors added.
Timed (in a second, fresh process, so its peak RSS is the cycle's alone): ``run_day`` for the day after
the balances were stated, step by step (the first day: every overdue account gets its case), then the
following day (the steady state: the book's cases exist and only changes are written), then the bare
pass. Peak resident memory is reported for the whole timed process and after each step of the first
day (the ledger steps hold at most one slice of accounts at once: see docs/scaling.md).

Between the untimed and the timed parts, and between the days, the operating system is asked to write
out what earlier work left in its cache (``os.sync``; on PostgreSQL also a ``CHECKPOINT`` after the
set-up): a book is imported, and each day run, well before the next day's cycle, and a gigabyte or two
of the import or of a copied book still being written back would otherwise be charged to the first
day. The timed process gets the environment the ``arrears`` package gives itself on import
(``arrears.allocator``), which it would otherwise miss by importing ``polars`` first.

The bare pass is the floor any cycle pays: it reads the same open accounts with their ledger balances
from the database into Polars, computes a segment column from days past due and balance, and writes as
many rows as the cycle wrote (positions, actions, messages) into a scratch table with the same bulk
writer. Personal data is stored in plaintext here (``PlainCodec``): the cycle reads contact points only
for the accounts it contacts.

    .venv/bin/python benchmarks/bench_cycle.py                      # 100,000 accounts, SQLite and PostgreSQL
    .venv/bin/python benchmarks/bench_cycle.py --accounts 1000000   # the issue's size
    .venv/bin/python benchmarks/bench_cycle.py --databases sqlite
    .venv/bin/python benchmarks/bench_cycle.py --accounts 1000000 --partitions 5   # bounded memory

``--days N`` (default 2) runs the days after the second too, one after another, and reports the total
of each: what a growing ledger history adds to a day (docs/cycle.md).

    .venv/bin/python benchmarks/bench_cycle.py --accounts 100000 --databases sqlite --days 7

On SQLite, ``--keep FILE`` keeps a copy of the database as set up (before the timed run), and
``--reuse FILE`` times a copy of such a file instead of setting up again (same book, before/after):

    .venv/bin/python benchmarks/bench_cycle.py --accounts 20000 --databases sqlite --keep /tmp/book20k.db
    .venv/bin/python benchmarks/bench_cycle.py --accounts 20000 --databases sqlite --reuse /tmp/book20k.db
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text

BALANCES_AS_OF = dt.date(2026, 11, 20)
AS_OF = BALANCES_AS_OF + dt.timedelta(days=1)
NEXT_DAY = AS_OF + dt.timedelta(days=1)
NOW = dt.datetime(2026, 11, 21, 14, 30, tzinfo=dt.UTC)
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
STRATEGY = Path(__file__).resolve().parents[1] / "src/arrears/data/strategies/cn-consumer.yaml"


def setup(url: str, accounts: int, folder: Path) -> None:
    """Generate, import, publish the strategy and add collectors (the untimed part)."""
    from arrears.allocation.service import add_collector, add_team
    from arrears.portfolio.accounts_import import import_accounts
    from arrears.sim.generate import generate_accounts, write
    from arrears.store.db import UnitOfWork, make_engine, upgrade
    from arrears.strategy.service import publish_strategy

    engine = make_engine(url)
    upgrade(engine)
    path = write(generate_accounts(accounts, as_of=BALANCES_AS_OF), folder / "accounts.csv")
    started = time.perf_counter()
    import_accounts(engine=engine, path=path, actor="bench", now=NOW, batch_rows=100_000)
    imported = time.perf_counter() - started
    with UnitOfWork(engine) as uow:
        publish_strategy(
            uow.session, text=STRATEGY.read_text(), fmt="yaml", source=str(STRATEGY), actor="bench", now=NOW
        )
        add_team(uow.session, code="phones", name="Phone team", actor="bench", now=NOW)
        for n in range(20):
            add_collector(
                uow.session, code=f"c{n:02d}", team="phones", daily_capacity=400, languages=["zh"],
                actor="bench", now=NOW,
            )  # fmt: skip
        uow.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
    engine.dispose()
    print(json.dumps({"import_s": imported}))


def _bare_pass(engine: Engine, rows: int) -> float:
    """Read open accounts and balances, compute a segment column, write ``rows`` rows; seconds taken."""
    import polars as pl  # here, not at the top: see _child

    from arrears.store import bulk

    started = time.perf_counter()
    with engine.begin() as conn:
        query = text(
            "SELECT a.id, a.product_code, a.schedule, COALESCE(b.total, 0) FROM accounts a "
            "LEFT JOIN (SELECT account_id, SUM(principal_minor + interest_minor + penalty_minor "
            "+ compound_minor + fee_minor + cost_minor) AS total FROM ledger_entries GROUP BY account_id) b "
            "ON b.account_id = a.id WHERE a.status = 'open'"
        )
        frame = pl.DataFrame(
            conn.execute(query).all(),
            schema={"account_id": pl.Int64, "product": pl.String, "schedule": pl.Binary, "balance": pl.Int64},
            orient="row",
        )
        # the first instalment's due date: the leading int32 (days since 1970) of the packed schedule
        first_due = (
            frame["schedule"].bin.head(4).bin.reinterpret(dtype=pl.Int32, endianness="little").cast(pl.Date)
        )
        dpd = (pl.lit(AS_OF) - first_due).dt.total_days().clip(lower_bound=0)
        out = frame.select(
            "account_id",
            pl.when(dpd > 90)
            .then(pl.lit("late"))
            .when(dpd > 30)
            .then(pl.lit("mid"))
            .when(pl.col("balance") > 5_000_000)
            .then(pl.lit("early-high"))
            .otherwise(pl.lit("early"))
            .alias("segment"),
            pl.col("balance"),
        )
        repeated = pl.concat([out] * (rows // max(out.height, 1) + 1)).head(rows)
        conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE bench_scratch (account_id BIGINT, segment TEXT, balance BIGINT)"
        )
        bulk.insert_frame(conn, "bench_scratch", repeated)
    return time.perf_counter() - started


def _peak_rss() -> int:
    """This process's peak resident set size so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_timed(
    engine: Engine, as_of: dt.date, now: dt.datetime, partitions: int = 1
) -> tuple[float, dict[str, float], dict[str, int], Any]:
    from arrears.cycle.runner import run_day

    marks: list[tuple[str, float]] = []
    peaks: dict[str, int] = {}
    started = time.perf_counter()

    def progress(step: str, _done: int, _total: int) -> None:
        marks.append((step, time.perf_counter()))
        peaks[step] = _peak_rss()

    report = run_day(engine, as_of=as_of, actor="bench", now=now, progress=progress, partitions=partitions)
    total = time.perf_counter() - started
    steps: dict[str, float] = {}
    previous = started
    for step, at in marks:
        steps[step] = at - previous
        previous = at
    return total, steps, peaks, report


def timed(url: str, partitions: int = 1, days: int = 2) -> None:
    """Run the first day step by step, then the next day (steady state), then the bare pass."""
    from arrears.cycle.tables import CycleAction, DailyPosition, OutboxMessage
    from arrears.store.db import make_engine

    engine = make_engine(url)
    total, steps, peaks, report = _run_timed(engine, AS_OF, NOW, partitions)
    with engine.connect() as conn:
        written = sum(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (DailyPosition, CycleAction, OutboxMessage)
        )
    os.sync()  # the day's writes out of the cache, as they would be by the next day's run
    total2, steps2, _, report2 = _run_timed(engine, NEXT_DAY, NOW + dt.timedelta(days=1), partitions)
    os.sync()  # the same footing as the days
    bare = _bare_pass(engine, written)
    later: list[float] = []  # after the bare pass, which so reads the ledger of the first two days only
    for n in range(2, days):
        os.sync()
        later.append(
            _run_timed(engine, AS_OF + dt.timedelta(days=n), NOW + dt.timedelta(days=n), partitions)[0]
        )
    engine.dispose()
    peak = _peak_rss()
    print(
        json.dumps(
            {"total_s": total, "steps_s": steps, "bare_s": bare, "rows_written": written, "peak_rss": peak,
             "peak_rss_after": peaks,
             "counts": report.steps, "day2_total_s": total2, "day2_steps_s": steps2,
             "day2_counts": report2.steps, "later_days_s": later},
            default=str,
        )
    )  # fmt: skip


def _child(*args: str) -> dict[str, Any]:
    from arrears.allocator import configure

    # Into this process's environment, which the child inherits: this module does not import polars
    # at its top, so that nothing (polars' own allocator settings among them) is in the way.
    configure()
    result = subprocess.run([sys.executable, __file__, *args], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _measure(
    name: str,
    url: str,
    accounts: int,
    folder: Path,
    keep: Path | None = None,
    reuse: Path | None = None,
    partitions: int = 1,
    days: int = 2,
) -> None:
    database = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite") else None
    if reuse is not None and database is not None:
        shutil.copyfile(reuse, database)
        setup_result = {"import_s": float("nan")}
    else:
        setup_result = _child(
            "--phase", "setup", "--url", url, "--accounts", str(accounts), "--folder", str(folder)
        )
    if keep is not None and database is not None:
        shutil.copyfile(database, keep)
    os.sync()  # the set-up's writes (import, copies) out of the cache before the timed part
    r = _child("--phase", "timed", "--url", url, "--partitions", str(partitions), "--days", str(days))
    steps = ", ".join(f"{k} {v:.2f}" for k, v in r["steps_s"].items())
    print(
        f"cycle [{name}, {partitions} partition(s) in process]: {accounts:,} accounts in {r['total_s']:.2f} s (target <= 60 s at 1,000,000); "
        f"steps (s): {steps}; peak RSS {r['peak_rss'] / 2**30:.2f} GiB (target < 4 GiB); "
        f"bare Polars pass {r['bare_s']:.2f} s for {r['rows_written']:,} rows written -> "
        f"ratio {r['total_s'] / r['bare_s']:.1f}x (aim <= 5x); import (setup) {setup_result['import_s']:.1f} s"
    )
    after = ", ".join(f"{k} {v / 2**30:.2f}" for k, v in r["peak_rss_after"].items())
    print(f"  peak RSS (GiB) after each step of the first day: {after}")
    print(f"  counts: {json.dumps(r['counts'], default=str)}")
    steps2 = ", ".join(f"{k} {v:.2f}" for k, v in r["day2_steps_s"].items())
    print(f"  next day (steady state): {r['day2_total_s']:.2f} s; steps (s): {steps2}")
    print(f"  next day counts: {json.dumps(r['day2_counts'], default=str)}")
    for n, seconds in enumerate(r["later_days_s"], start=3):
        print(f"  day {n}: {seconds:.2f} s")


def main(
    accounts: int,
    databases: list[str],
    keep: Path | None = None,
    reuse: Path | None = None,
    partitions: int = 1,
    days: int = 2,
) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if "sqlite" in databases:
            _measure(
                "sqlite", f"sqlite:///{folder / 'cycle.db'}", accounts, folder, keep, reuse, partitions, days
            )
        if "postgresql" in databases:
            admin = create_engine(PG, isolation_level="AUTOCOMMIT")
            database = f"arrears_cycle_{uuid.uuid4().hex[:8]}"
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{database}"'))
            except Exception as exc:  # PostgreSQL absent: report SQLite only
                print(f"postgresql: skipped ({type(exc).__name__})")
            else:
                try:
                    _measure(
                        "postgresql",
                        PG.rsplit("/", 1)[0] + "/" + database,
                        accounts,
                        folder,
                        partitions=partitions,
                        days=days,
                    )
                finally:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--keep", type=Path, help="SQLite: keep a copy of the set-up database here")
    parser.add_argument("--reuse", type=Path, help="SQLite: time a copy of this set-up database")
    parser.add_argument(
        "--partitions", type=int, default=1, help="run the cycle in this many partitions, one after another"
    )
    parser.add_argument(
        "--days", type=int, default=2, help="days to run (at least 2: the first and the next)"
    )
    parser.add_argument("--phase", choices=["setup", "timed"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "setup":
        setup(args.url, args.accounts, args.folder)
    elif args.phase == "timed":
        timed(args.url, args.partitions, args.days)
    else:
        if args.days < 2:
            parser.error("--days: at least 2 (the first day and the next)")
        main(args.accounts, args.databases, args.keep, args.reuse, args.partitions, args.days)
