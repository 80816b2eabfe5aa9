"""Figure: account rows imported per second (issue: at least 50,000/s into SQLite; PostgreSQL stated).

Generates a synthetic portfolio (CSV), imports it into a fresh SQLite database and, when reachable, a
fresh PostgreSQL database, and prints rows per second for the import alone (file read, validation,
schedules, reconciliation, bulk writes, commit). Then imports the same file again (idempotent pass)
and a payments file. Batches are the size ``arrears import`` uses (``ARREARS_IMPORT_BATCH_ROWS``,
20,000 by default). ``--sealed`` stores personal data encrypted (AES-256-GCM and blind indexes under
a generated key ring), as production does; without it, plaintext (a development machine). The
machine's load average is printed with the figures: they are only comparable at similar load.

    .venv/bin/python benchmarks/bench_import.py [--rows 200000] [--sealed] [--batch-rows 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from arrears.config import Settings
from arrears.portfolio.accounts_import import import_accounts
from arrears.portfolio.payments_import import import_payments
from arrears.privacy.crypto import KeyRing
from arrears.sim.generate import generate_accounts, generate_payments, write
from arrears.store import personal
from arrears.store.db import make_engine, upgrade

AS_OF = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _run(url: str, accounts: Path, payments: Path, rows: int, batch_rows: int) -> dict[str, float]:
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    report = import_accounts(engine=engine, path=accounts, actor="bench", now=NOW, batch_rows=batch_rows)
    first = time.perf_counter() - started
    assert report.rows_inserted == rows, report.counts()
    started = time.perf_counter()
    again = import_accounts(engine=engine, path=accounts, actor="bench", now=NOW, batch_rows=batch_rows)
    second = time.perf_counter() - started
    assert again.rows_unchanged == rows
    started = time.perf_counter()
    paid = import_payments(engine=engine, path=payments, actor="bench", now=NOW, batch_rows=batch_rows)
    third = time.perf_counter() - started
    engine.dispose()
    return {
        "accounts_per_s": rows / first,
        "accounts_s": first,
        "reimport_per_s": rows / second,
        "payments_per_s": paid.rows_inserted / third,
        "payments": paid.rows_inserted,
    }


def main(rows: int = 100_000, *, sealed: bool = False, batch_rows: int | None = None) -> None:
    batch_rows = batch_rows or Settings.model_fields["import_batch_rows"].default
    assert batch_rows is not None
    if sealed:
        personal.set_codec(personal.EncryptingCodec(KeyRing.generate("bench")))
    else:
        personal.set_codec(personal.PlainCodec())
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        portfolio = generate_accounts(rows, as_of=AS_OF)
        accounts = write(portfolio, base / "accounts.csv")
        payments = write(generate_payments(portfolio, share=0.3, as_of=AS_OF), base / "payments.csv")
        results = {"sqlite": _run(f"sqlite:///{base / 'bench.db'}", accounts, payments, rows, batch_rows)}
        admin = create_engine(PG, isolation_level="AUTOCOMMIT")
        name = f"arrears_bench_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # PostgreSQL absent: report SQLite only
            print(f"postgresql: skipped ({type(exc).__name__})")
        else:
            try:
                pg_url = PG.rsplit("/", 1)[0] + "/" + name
                results["postgresql"] = _run(pg_url, accounts, payments, rows, batch_rows)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    personal_data = "sealed (AES-256-GCM)" if sealed else "plaintext"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    for database, r in results.items():
        print(
            f"import accounts [{database}, {personal_data}, batches of {batch_rows:,}]: "
            f"{rows:,} rows in {r['accounts_s']:.2f} s = "
            f"{r['accounts_per_s']:,.0f} rows/s (target >= 50,000 on SQLite); "
            f"re-import (no changes) {r['reimport_per_s']:,.0f} rows/s; "
            f"payments {r['payments']:,} at {r['payments_per_s']:,.0f} rows/s"
        )
    print(f"load average (1, 5, 15 min) after the runs: {load} on {os.cpu_count()} cores")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sealed", action="store_true", help="encrypt personal data, as in production")
    parser.add_argument(
        "--batch-rows", type=int, default=None, help="rows per batch (default: the setting's)"
    )
    args = parser.parse_args()
    main(args.rows, sealed=args.sealed, batch_rows=args.batch_rows)
