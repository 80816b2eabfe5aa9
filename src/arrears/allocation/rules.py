"""Pure allocation rules: queue order, assignment of work to collectors, agency placement eligibility.

No database here: the shell loads collectors, work and agencies, calls these, and persists the result.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

__all__ = [
    "SKILL_KEYS",
    "AssignmentMethod",
    "PlacementRefusal",
    "assign_matched",
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
    Ties on all three are broken by ``action_id`` when the frame has one.
    """
    expected = (
        (pl.col("balance_minor").cast(pl.Decimal(38, 0)) * pl.col("pay_probability").cast(pl.Decimal(38, 6)))
        .floor()
        .cast(pl.Int64)
    )
    keys = ["expected_recovery_minor", "urgency", "account_id"]
    # Two tasks for one account (different actions) still come out in one fixed order.
    keys += ["action_id"] if "action_id" in work.columns else []
    return work.with_columns(expected.alias("expected_recovery_minor")).sort(
        keys, descending=[True, True] + [False] * (len(keys) - 2)
    )


def assign_work(queue: pl.DataFrame, collectors: pl.DataFrame, *, method: AssignmentMethod) -> pl.DataFrame:
    """Give each queued item (in queue order) to a collector with capacity left; the rest stay unassigned.

    ``collectors``: collector_id, capacity (items today), open_items (already held), score (for
    ``score``: higher-scoring collectors are filled first). Round robin deals in collector-id order;
    balanced load always gives the next item to the collector holding the fewest items. Every
    collector may take every item: :func:`assign_matched` is the same with skills.
    """
    return assign_matched(queue, collectors, method=method)


SKILL_KEYS: tuple[tuple[str, str], ...] = (
    ("language", "languages"),
    ("bucket", "buckets"),
    ("product", "products"),
)
"""(work column, collector skill list) pairs matched by :func:`assign_matched`."""


def _skill_sets(collectors: pl.DataFrame, ids: list[int]) -> dict[int, tuple[frozenset[str] | None, ...]]:
    sets: dict[int, tuple[frozenset[str] | None, ...]] = {c: () for c in ids}
    for _, skill in SKILL_KEYS:
        values = collectors.get_column(skill).to_list() if skill in collectors.columns else [None] * len(ids)
        for c, v in zip(ids, values, strict=True):
            # A missing or empty list means the collector takes any value.
            sets[c] = (*sets[c], frozenset(v) if v else None)
    return sets


class _Picker:
    """Chooses among the collectors eligible for one kind of work, by one method."""

    def __init__(
        self, eligible: list[int], method: AssignmentMethod, held: dict[int, int], score: dict[int, int]
    ) -> None:
        self.method = method
        self.ring = deque(eligible)
        self.heap = [(held[c], c) for c in eligible]
        heapq.heapify(self.heap)
        self.ranked = sorted(eligible, key=lambda c: (-score[c], c))
        self.at = 0

    def pick(self, left: dict[int, int], held: dict[int, int]) -> int | None:
        if self.method is AssignmentMethod.ROUND_ROBIN:
            while self.ring:
                c = self.ring.popleft()
                if left[c] > 0:
                    self.ring.append(c)
                    return c
            return None
        if self.method is AssignmentMethod.SCORE:
            while self.at < len(self.ranked) and left[self.ranked[self.at]] <= 0:
                self.at += 1
            return self.ranked[self.at] if self.at < len(self.ranked) else None
        # Balanced: a lazy heap on (items held, id); loads only grow, so stale entries are re-pushed.
        while self.heap:
            h, c = self.heap[0]
            if left[c] <= 0:
                heapq.heappop(self.heap)
            elif h != held[c]:
                heapq.heapreplace(self.heap, (held[c], c))
            else:
                heapq.heapreplace(self.heap, (h + 1, c))
                return c
        return None


def assign_matched(
    queue: pl.DataFrame, collectors: pl.DataFrame, *, method: AssignmentMethod
) -> pl.DataFrame:
    """:func:`assign_work` where an item goes only to a collector whose skills cover it.

    ``queue`` (in queue order) may have ``language``, ``bucket``, ``product`` (null: any collector will
    do) and ``exclude_collector_id`` (a collector that may not take the item, as when reassigning it).
    ``collectors`` may have ``languages``, ``buckets``, ``products``: lists, empty or null for any.
    Round robin deals in id order among the collectors eligible for the same kind of work; balanced
    gives the item to the eligible collector holding the fewest items (ties: lowest id); score fills
    the highest-scoring eligible collector first. Capacity is never exceeded; an item no eligible
    collector has room for stays unassigned (``collector_id`` null). Adds ``collector_id``.
    """
    caps = collectors.sort("collector_id")
    ids = [int(c) for c in caps.get_column("collector_id").to_list()]
    left = {c: max(int(v), 0) for c, v in zip(ids, caps.get_column("capacity").to_list(), strict=True)}
    held = {c: int(v) for c, v in zip(ids, caps.get_column("open_items").to_list(), strict=True)}
    scores = caps.get_column("score").to_list() if "score" in caps.columns else [0] * len(ids)
    score = {c: int(v or 0) for c, v in zip(ids, scores, strict=True)}
    skills = _skill_sets(caps, ids)
    key_columns = [c for c, _ in SKILL_KEYS if c in queue.columns]
    if "exclude_collector_id" in queue.columns:
        key_columns.append("exclude_collector_id")
    chosen: list[int | None] = [None] * queue.height
    total = sum(left.values())
    if total == 0 or queue.height == 0:
        return queue.with_columns(pl.Series("collector_id", chosen, dtype=pl.Int64))
    if key_columns:
        kinds = queue.select(key_columns).unique(maintain_order=True).with_row_index("_kind")
        item_kind = (
            queue.select(key_columns)
            .join(kinds, on=key_columns, how="left", nulls_equal=True, maintain_order="left")
            .get_column("_kind")
            .to_list()
        )
        kind_values = {row[0]: row[1:] for row in kinds.select("_kind", *key_columns).iter_rows()}
    else:
        item_kind = [0] * queue.height
        kind_values = {0: ()}
    pickers: dict[int, _Picker] = {}
    # A loop over the day's assignable items (bounded by total capacity): each step is O(log n).
    for i, kind in enumerate(item_kind):
        picker = pickers.get(kind)
        if picker is None:
            values = dict(zip(key_columns, kind_values[kind], strict=True))
            eligible = [c for c in ids if _eligible(skills[c], values, c)]
            picker = pickers[kind] = _Picker(eligible, method, held, score)
        pick = picker.pick(left, held)
        if pick is None:
            continue
        left[pick] -= 1
        held[pick] += 1
        chosen[i] = pick
        total -= 1
        if total == 0:
            break
    return queue.with_columns(pl.Series("collector_id", chosen, dtype=pl.Int64))


def _eligible(skills: tuple[frozenset[str] | None, ...], values: dict[str, object], collector: int) -> bool:
    if values.get("exclude_collector_id") == collector:
        return False
    for (column, _), allowed in zip(SKILL_KEYS, skills, strict=True):
        value = values.get(column)
        if allowed is not None and value is not None and value not in allowed:
            return False
    return True


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
