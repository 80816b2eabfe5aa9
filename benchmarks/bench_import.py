"""Figure: account rows imported per second (issue: at least 50,000/s into SQLite; PostgreSQL stated).

Generates a synthetic portfolio (CSV), imports it into a fresh SQLite database and, when reachable, a
fresh PostgreSQL database, and prints rows per second for the import alone (file read, validation,
schedules, reconciliation, bulk writes, commit). Then imports the same file again (idempotent pass)
and a payments file.

    .venv/bin/python benchmarks/bench_import.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from arrears.portfolio.accounts_import import import_accounts
from arrears.portfolio.payments_import import import_payments
from arrears.sim.generate import generate_accounts, generate_payments, write
from arrears.store.db import make_engine, upgrade

AS_OF = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _run(url: str, accounts: Path, payments: Path, rows: int) -> dict[str, float]:
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    report = import_accounts(engine=engine, path=accounts, actor="bench", now=NOW, batch_rows=50_000)
    first = time.perf_counter() - started
    assert report.rows_inserted == rows, report.counts()
    started = time.perf_counter()
    again = import_accounts(engine=engine, path=accounts, actor="bench", now=NOW, batch_rows=50_000)
    second = time.perf_counter() - started
    assert again.rows_unchanged == rows
    started = time.perf_counter()
    paid = import_payments(engine=engine, path=payments, actor="bench", now=NOW, batch_rows=50_000)
    third = time.perf_counter() - started
    engine.dispose()
    return {
        "accounts_per_s": rows / first,
        "accounts_s": first,
        "reimport_per_s": rows / second,
        "payments_per_s": paid.rows_inserted / third,
        "payments": paid.rows_inserted,
    }


def main(rows: int = 100_000) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        portfolio = generate_accounts(rows, as_of=AS_OF)
        accounts = write(portfolio, base / "accounts.csv")
        payments = write(generate_payments(portfolio, share=0.3, as_of=AS_OF), base / "payments.csv")
        results = {"sqlite": _run(f"sqlite:///{base / 'bench.db'}", accounts, payments, rows)}
        admin = create_engine(PG, isolation_level="AUTOCOMMIT")
        name = f"arrears_bench_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # PostgreSQL absent: report SQLite only
            print(f"postgresql: skipped ({type(exc).__name__})")
        else:
            try:
                results["postgresql"] = _run(PG.rsplit("/", 1)[0] + "/" + name, accounts, payments, rows)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    for database, r in results.items():
        print(
            f"import accounts [{database}]: {rows:,} rows in {r['accounts_s']:.2f} s = "
            f"{r['accounts_per_s']:,.0f} rows/s (target >= 50,000 on SQLite); "
            f"re-import (no changes) {r['reimport_per_s']:,.0f} rows/s; "
            f"payments {r['payments']:,} at {r['payments_per_s']:,.0f} rows/s"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    main(parser.parse_args().rows)
