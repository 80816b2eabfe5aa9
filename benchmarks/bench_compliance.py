"""Compliance engine figures: single-check latency (50 history events) and batch throughput.

Run: ``.venv/bin/python benchmarks/bench_compliance.py``
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

import polars as pl

from arrears.compliance import check_batch
from arrears.compliance.service import parse_request
from arrears.domain.compliance import evaluate, load_packs


def _request(i: int = 0) -> dict:
    history = [
        {
            "at": (dt.datetime(2026, 6, 1, 14, tzinfo=dt.UTC) + dt.timedelta(hours=3 * k)).isoformat(),
            "channel": "call" if k % 3 else "sms",
            "direction": "outbound",
            "contact_point": "m1",
            "debts": ["A" if k % 2 else "B"],
            "outcome": "no_answer" if k % 4 else "busy",
        }
        for k in range(50)
    ]
    return {
        "now": "2026-06-08T18:00:00Z",
        "actor": "third_party_collector",
        "debtor": {
            "id": f"d{i}",
            "jurisdiction": "US-IL",
            "contact_points": [{"id": "m1", "kind": "phone", "value": "+13125551234", "place": "mobile"}],
        },
        "debts": [{"id": "A"}, {"id": "B"}],
        "history": history,
        "proposed": {"channel": "call", "contact_point": "m1", "debts": ["A"]},
    }


def bench_single(runs: int = 2000) -> None:
    packs = load_packs()
    body = _request()
    request = parse_request(body)
    for _ in range(200):
        evaluate(request, packs)
    engine, full = [], []
    for _ in range(runs):
        start = time.perf_counter()
        evaluate(request, packs)
        engine.append(time.perf_counter() - start)
    for _ in range(runs // 4):
        start = time.perf_counter()
        evaluate(parse_request(body), packs)
        full.append(time.perf_counter() - start)
    for name, samples in (("engine (validated request)", engine), ("validate + engine", full)):
        samples.sort()
        p99 = samples[int(len(samples) * 0.99) - 1]
        print(
            f"single check, 50 events, {name}: median {statistics.median(samples) * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us"
        )


def bench_batch(debtors: int = 5000, per_debtor: int = 4) -> None:
    now = dt.datetime(2026, 6, 8, 18, tzinfo=dt.UTC)
    cases, rows, plans = [], [], []
    for i in range(debtors):
        body = _request(i)
        cases.append({"debtor": body["debtor"], "debts": body["debts"]})
        for event in body["history"][:10]:
            rows.append(
                {"debtor_id": f"d{i}", **event, "at": dt.datetime.fromisoformat(event["at"]), "person": None}
            )
        for k in range(per_debtor):
            plans.append(
                {
                    "debtor_id": f"d{i}",
                    "channel": "call",
                    "contact_point": "m1",
                    "debts": ["A" if k % 2 else "B"],
                }
            )
    history = pl.DataFrame(rows, schema_overrides={"at": pl.Datetime("us", "UTC")})
    proposed = pl.DataFrame(plans)
    start = time.perf_counter()
    out = check_batch(now=now, actor="third_party_collector", cases=cases, history=history, proposed=proposed)
    elapsed = time.perf_counter() - start
    print(f"batch: {out.height} decisions in {elapsed:.2f} s = {out.height / elapsed:,.0f} decisions/s")


def main() -> None:
    bench_single()
    bench_batch()


if __name__ == "__main__":
    main()
