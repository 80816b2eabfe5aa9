"""Pure allocation rules: queue order, assignment of work to collectors, agency placement eligibility.

No database here: the shell loads collectors, work and agencies, calls these, and persists the result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

__all__ = [
    "AssignmentMethod",
    "PlacementRefusal",
    "assign_work",
    "order_queue",
    "placement_refusals",
]

# One year between compliance evaluations of an outsourced collector (GB/T 45251—2025).
EVALUATION_VALID_DAYS = 365


class AssignmentMethod(StrEnum):
    ROUND_ROBIN = "round_robin"
    BALANCED = "balanced"
    SCORE = "score"


def order_queue(work: pl.DataFrame) -> pl.DataFrame:
    """Work ordered by expected recovery (balance_minor × probability of payment), then urgency, then id.

    ``work``: account_id, balance_minor, pay_probability (Decimal or text, 0–1), urgency (higher first).
    Adds ``expected_recovery_minor`` (integer minor units, rounded down: a forecast, not money owed).
    """
    expected = (
        (pl.col("balance_minor").cast(pl.Decimal(38, 0)) * pl.col("pay_probability").cast(pl.Decimal(38, 6)))
        .floor()
        .cast(pl.Int64)
    )
    return work.with_columns(expected.alias("expected_recovery_minor")).sort(
        ["expected_recovery_minor", "urgency", "account_id"], descending=[True, True, False]
    )


def assign_work(queue: pl.DataFrame, collectors: pl.DataFrame, *, method: AssignmentMethod) -> pl.DataFrame:
    """Give each queued item (in queue order) to a collector with capacity left; the rest stay unassigned.

    ``collectors``: collector_id, capacity (items today), open_items (already held), score (for
    ``score``: higher-scoring collectors are filled first). Round robin deals in collector-id order;
    balanced load always gives the next item to the collector holding the fewest items.
    """
    caps = collectors.sort("collector_id")
    ids = caps.get_column("collector_id").to_list()
    left = dict(zip(ids, caps.get_column("capacity").to_list(), strict=True))
    held = dict(zip(ids, caps.get_column("open_items").to_list(), strict=True))
    if method is AssignmentMethod.SCORE:
        order = (
            caps.sort(["score", "collector_id"], descending=[True, False])
            .get_column("collector_id")
            .to_list()
        )
    else:
        order = ids
    total = sum(max(v, 0) for v in left.values())
    n = min(total, queue.height)
    chosen: list[int | None] = []
    turn = 0
    # A loop over at most the day's total capacity (collectors × capacity), not over the book.
    for _ in range(n):
        if method is AssignmentMethod.BALANCED:
            pick = min((c for c in ids if left[c] > 0), key=lambda c: (held[c], c))
        elif method is AssignmentMethod.SCORE:
            pick = next(c for c in order if left[c] > 0)
        else:
            while left[order[turn % len(order)]] <= 0:
                turn += 1
            pick = order[turn % len(order)]
            turn += 1
        left[pick] -= 1
        held[pick] += 1
        chosen.append(pick)
    chosen.extend([None] * (queue.height - n))
    return queue.with_columns(pl.Series("collector_id", chosen, dtype=pl.Int64))


@dataclass(frozen=True)
class PlacementRefusal:
    code: str
    message: str


def placement_refusals(
    *, compliance_evaluated_on: dt.date | None, dpa_signed_on: dt.date | None, on: dt.date
) -> list[PlacementRefusal]:
    """Why an agency may not receive accounts on ``on`` (empty when it may)."""
    refusals = []
    # GB/T 45251—2025: outsourced collectors are evaluated for compliance at least yearly.
    if compliance_evaluated_on is None or (on - compliance_evaluated_on).days > EVALUATION_VALID_DAYS:
        when = "never" if compliance_evaluated_on is None else f"last on {compliance_evaluated_on}"
        refusals.append(
            PlacementRefusal(
                "evaluation_stale", f"the agency's compliance evaluation is {when}; it must be within a year"
            )
        )
    # PIPL art. 21: entrusting personal data needs a processing agreement with the trustee.
    if dpa_signed_on is None or dpa_signed_on > on:
        refusals.append(PlacementRefusal("no_dpa", "no data-processing agreement is on file for the agency"))
    return refusals
