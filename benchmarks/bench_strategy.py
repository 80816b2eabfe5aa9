"""Segment, assign champion/challenger arms and produce the day's actions for N synthetic accounts.

    python benchmarks/bench_strategy.py [N]        (default 100,000; the issue's figure is 1,000,000)

Prints seconds per stage and the process's peak resident memory. Features are synthetic (seeded);
the database is not involved: this measures the strategy engine alone.
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

import arrears
from arrears.strategy.dsl import load_strategy
from arrears.strategy.experiments import assign_variants
from arrears.strategy.segment import segment_accounts
from arrears.strategy.treatment import todays_actions

AS_OF = dt.date(2026, 6, 20)


def features(n: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "account_id": np.arange(1, n + 1, dtype=np.int64),
            "dpd": rng.integers(0, 200, n),
            "score": rng.integers(300, 900, n),
            "promises_broken": rng.integers(0, 4, n),
            "hardship": rng.random(n) < 0.02,
            "dispute": rng.random(n) < 0.01,
            "first_payment_default": rng.random(n) < 0.05,
            "paid_last_30d": rng.random(n) < 0.2,
            "balance_minor": rng.integers(10_000, 10_000_000, n),
            "currency": ["CNY"] * n,
            # Entered their segment within the last 30 days, so every step day is exercised.
            "entered_on": np.datetime64(AS_OF) - rng.integers(0, 30, n).astype("timedelta64[D]"),
        }
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    report = load_strategy(Path(arrears.__file__).parent / "data" / "strategies" / "cn-consumer.yaml")
    strategy = report.strategy
    assert strategy is not None
    frame = features(n)
    t0 = time.perf_counter()
    segmented = segment_accounts(frame, strategy).filter(pl.col("segment").is_not_null())
    t1 = time.perf_counter()
    assigned = assign_variants(segmented, strategy)
    t2 = time.perf_counter()
    actions = todays_actions(assigned, strategy, as_of=AS_OF)
    t3 = time.perf_counter()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"accounts {n:,}; segmented {segmented.height:,}; actions {actions.height:,}")
    print(f"segment {t1 - t0:.2f} s; assign {t2 - t1:.2f} s; actions {t3 - t2:.2f} s; total {t3 - t0:.2f} s")
    print(f"peak memory {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
