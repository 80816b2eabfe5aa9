"""Compliance engine figures: single-check latency and batch throughput.

Run: ``.venv/bin/python benchmarks/bench_compliance.py [--proposals N]``

What each figure includes:

* ``single check, engine``: ``evaluate`` of an already-validated request with 50 history events
  (packs loaded, phone zones cached); median and p99 of 2,000 runs.
* ``single check, validate + engine``: the same, validating the request body first (as
  ``arrears.compliance.check`` does for a mapping).
* ``batch``: one ``check_batch`` call judging N proposals (default 100,000: 50,000 debtors, two
  proposals each, 60 % US and 40 % CN, about 1 in 12 with a flag, 5-20 history events each). The time includes
  validating the cases, checking the tables, resolving zones, the whole-column path and the
  engine for the rows that need it; it excludes building the input frames. Three variants:
  ``cold`` (no phone number parsed yet in this process), ``warm`` (the same call again: numbers
  already resolved by the process-wide cache) and ``zones given`` (cases carry precomputed
  ``zones`` on their phone contact points, cold cache). Each variant is the best of three runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from typing import Any

import polars as pl

from arrears.compliance import check_batch
from arrears.compliance.service import parse_request
from arrears.domain.compliance import evaluate, load_packs
from arrears.domain.compliance.zones import zones_for_phone

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 8, 18, tzinfo=UTC)


def _request(i: int = 0) -> dict[str, Any]:
    history = [
        {
            "at": (dt.datetime(2026, 6, 1, 14, tzinfo=UTC) + dt.timedelta(hours=3 * k)).isoformat(),
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
            f"single check, 50 events, {name}: median {statistics.median(samples) * 1e6:.0f} us, "
            f"p99 {p99 * 1e6:.0f} us"
        )


_US_AREAS = ["312", "212", "415", "713", "305", "602", "206", "617"]
_US = ["US-IL", "US-NY", "US-CA", "US-TX", "US-FL", "US-AZ", "US-WA"]
_OUTCOMES = ["no_answer", "no_answer", "busy", "voicemail", "conversation", "not_in_service"]


def scenario(proposals: int, seed: int = 7) -> tuple[list[dict[str, Any]], pl.DataFrame, pl.DataFrame]:
    """Cases, history and proposals for the batch figure (two proposals per debtor)."""
    rng = random.Random(seed)
    cases: list[dict[str, Any]] = []
    events: dict[str, list[Any]] = {k: [] for k in ("debtor_id", "at", "channel", "direction", "person",
                                                    "contact_point", "debts", "outcome")}  # fmt: skip
    plans: dict[str, list[Any]] = {"debtor_id": [], "channel": [], "contact_point": [], "debts": []}
    for i in range(proposals // 2):
        is_cn = rng.random() < 0.4
        if is_cn:
            numbers = [
                f"+86138{rng.randint(10_000_000, 99_999_999)}",
                f"+86139{rng.randint(10_000_000, 99_999_999)}",
            ]
        else:
            numbers = [
                f"+1{rng.choice(_US_AREAS)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}" for _ in "ab"
            ]
        points = [
            {"id": f"m{k}", "kind": "phone", "value": v, "place": "mobile"} for k, v in enumerate(numbers)
        ]
        debtor: dict[str, Any] = {"id": f"d{i}", "jurisdiction": "CN" if is_cn else rng.choice(_US),
                                  "contact_points": points}  # fmt: skip
        if rng.random() < 0.08:
            debtor["flags"] = rng.choice(
                [{"deceased": True}, {"inconvenient_times": [{"start": "12:00", "end": "13:00"}]}]
            )
        debts = [{"id": "A"}, {"id": "B"}] if rng.random() < 0.3 else [{"id": "A"}]
        cases.append({"debtor": debtor, "debts": debts})
        for _ in range(rng.randint(5, 20)):
            events["debtor_id"].append(debtor["id"])
            events["at"].append(NOW - dt.timedelta(minutes=rng.randint(10, 10 * 24 * 60)))
            events["channel"].append("call")
            events["direction"].append("inbound" if rng.random() < 0.05 else "outbound")
            events["person"].append(None)
            events["contact_point"].append(rng.choice(["m0", "m1"]))
            events["debts"].append([rng.choice(debts)["id"]])
            events["outcome"].append(rng.choice(_OUTCOMES))
        for k in range(2):
            plans["debtor_id"].append(debtor["id"])
            plans["channel"].append("call")
            plans["contact_point"].append(f"m{k}")
            plans["debts"].append([debts[k % len(debts)]["id"]])
    history = pl.DataFrame(events, schema_overrides={"at": pl.Datetime("us", "UTC"), "person": pl.String})
    return cases, history, pl.DataFrame(plans)


def _with_zones(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for case in cases:
        debtor = case["debtor"]
        region = debtor["jurisdiction"].split("-")[0]
        points = [{**p, "zones": list(zones_for_phone(p["value"], region))} for p in debtor["contact_points"]]
        out.append({**case, "debtor": {**debtor, "contact_points": points}})
    return out


def bench_batch(proposals: int, repeats: int = 3) -> None:
    cases, history, proposed = scenario(proposals)
    given = _with_zones(cases)  # resolved outside the timing, as a contacts table would hold them
    load_packs()
    for label, data, clear in (("zones given", given, True), ("cold", cases, True), ("warm", cases, False)):
        best = float("inf")
        for _ in range(repeats):
            if clear:
                zones_for_phone.cache_clear()
            start = time.perf_counter()
            out = check_batch(
                now=NOW, actor="third_party_collector", cases=data, history=history, proposed=proposed
            )
            best = min(best, time.perf_counter() - start)
        counts = dict(out.group_by("outcome").len().sort("outcome").iter_rows())
        print(
            f"batch, {label}: {out.height:,} decisions, {history.height:,} events, best of {repeats} "
            f"{best:.2f} s = {out.height / best:,.0f} decisions/s {counts}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proposals", type=int, default=100_000)
    args = parser.parse_args()
    bench_single()
    bench_batch(args.proposals)


if __name__ == "__main__":
    main()
