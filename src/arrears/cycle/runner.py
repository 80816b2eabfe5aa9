"""The daily collection cycle: ordered steps, each done once per day and partition, resumable.

Every (day, step, partition) runs in its own transaction and records a ``cycle_step_runs`` row in that
same transaction. A rerun skips what is recorded, so a run killed at any point (even ``kill -9``)
finishes on the next run without duplicates or gaps; running a finished day again adds nothing.
Missed days are caught up in date order.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, func, select

from arrears.cycle.audit_step import step_checkpoint
from arrears.cycle.case_steps import step_cases, step_promises
from arrears.cycle.dispatch_step import step_dispatch, step_queues
from arrears.cycle.ledger_steps import CycleContext, step_accrue, step_positions
from arrears.cycle.plan_step import step_plan
from arrears.cycle.tables import CycleStepRun
from arrears.domain.products import Product
from arrears.errors import ValidationError
from arrears.portfolio.products import ensure_builtin_products, product_catalogue
from arrears.store.bulk import analyze_after_load
from arrears.store.db import UnitOfWork, utcnow

__all__ = [
    "STEPS",
    "CycleReport",
    "Executor",
    "InProcessExecutor",
    "Step",
    "catch_up",
    "last_completed_day",
    "products_for",
    "run_day",
]

StepFn = Callable[[Connection, CycleContext], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    name: str
    run: StepFn
    description: str
    partitioned: bool = True  # False: the step works on the whole book once (partition 0 of 1)
    # The tables the step loads in bulk, each with the counts (summed) that say how many rows it
    # wrote, or at least how many (a case has one link or more): their planner statistics are
    # refreshed before the step commits (store.bulk.analyze_after_load).
    loads: tuple[tuple[str, tuple[str, ...]], ...] = ()


STEPS: tuple[Step, ...] = (
    Step(
        "accrue",
        step_accrue,
        "interest falling due, late fees, daily 罚息 and 复利",
        loads=(("ledger_entries", ("interest_charges", "late_fees", "accruals")),),
    ),
    Step(
        "positions",
        step_positions,
        "DPD, buckets and balances snapshot",
        loads=(("daily_positions", ("accounts",)),),
    ),
    Step(
        "cases",
        step_cases,
        "open cases for newly overdue accounts; payoffs, settlements, follow-ups",
        False,
        loads=(("cases", ("opened",)), ("case_accounts", ("opened",))),
    ),
    Step("promises", step_promises, "promises and plans that fell due; escalation rules", False),
    Step(
        "plan",
        step_plan,
        "score, segment, arms, today's actions, compliance decisions",
        loads=(("cycle_actions", ("actions",)), ("segment_entries", ("segment_entered",))),
    ),
    Step(
        "dispatch",
        step_dispatch,
        "scheduled messages into the outbox",
        loads=(("outbox_messages", ("messages",)),),
    ),
    Step(
        "queues",
        step_queues,
        "scheduled calls into collectors' work queues; expired placements recalled",
        False,
        loads=(("work_items", ("queued",)),),
    ),
    Step("checkpoint", step_checkpoint, "a signed tree head over the audit log", False),
)

ProgressFn = Callable[[str, int, int], None]


@dataclass
class CycleReport:
    as_of: dt.date
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _done(conn: Connection, as_of: dt.date, step: str, partition: int) -> bool:
    r = CycleStepRun
    found = conn.execute(
        select(r.id).where(r.as_of == as_of, r.step == step, r.partition == partition)
    ).first()
    return found is not None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the block, then as it was.

    Steps build hundreds of thousands of short-lived containers (rows read, one audit event or action
    per account or case), every one freed by reference counting; the collector would otherwise walk
    the growing heap again and again while they pile up (a fifth of the ``cases`` step on a first day).
    A step leaves no reference cycles worth collecting before it ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_step(engine: Engine, step: Step, ctx: CycleContext) -> dict[str, Any] | None:
    """Run one step for one partition unless it is already recorded; returns its counts or None."""
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        if _done(conn, ctx.as_of, step.name, ctx.partition):
            return None
        started = utcnow()
        with _collector_paused():
            counts = step.run(conn, ctx)
        for table, keys in step.loads:
            analyze_after_load(conn, table, sum(int(counts.get(key) or 0) for key in keys))
        uow.session.add(
            CycleStepRun(
                as_of=ctx.as_of,
                step=step.name,
                partition=ctx.partition,
                partitions=ctx.partitions,
                started_at=started,
                finished_at=utcnow(),
                counts=counts,
            )
        )
        uow.commit()
        return counts


def products_for(engine: Engine, now: dt.datetime) -> dict[str, Product]:
    """The product catalogue (built-ins added if missing)."""
    with UnitOfWork(engine) as uow:
        ensure_builtin_products(uow.session, now=now)
        products = product_catalogue(uow.session)
        uow.commit()
    return products


class Executor(Protocol):
    """Runs one step over every partition and returns each partition's counts (None: already done)."""

    def run(
        self, engine: Engine, step: Step, contexts: Sequence[CycleContext]
    ) -> list[dict[str, Any] | None]: ...


class InProcessExecutor:
    """Partitions one after another in this process (the default)."""

    def run(
        self, engine: Engine, step: Step, contexts: Sequence[CycleContext]
    ) -> list[dict[str, Any] | None]:
        return [run_step(engine, step, ctx) for ctx in contexts]


def run_day(
    engine: Engine,
    *,
    as_of: dt.date,
    actor: str,
    partitions: int = 1,
    steps: Sequence[Step] = STEPS,
    progress: ProgressFn | None = None,
    now: dt.datetime | None = None,
    executor: Executor | None = None,
) -> CycleReport:
    """Run every step for ``as_of`` over every partition, in step order."""
    if partitions < 1:
        raise ValidationError("partitions must be at least 1", field="partitions", value=partitions)
    moment = now or utcnow()
    products = products_for(engine, moment)
    runner = executor or InProcessExecutor()
    report = CycleReport(as_of=as_of)
    for index, step in enumerate(steps):
        totals: dict[str, Any] = {}
        # A whole-book step runs once (partition 0 of 1) however many partitions the day has.
        parts = partitions if step.partitioned else 1
        contexts = [
            CycleContext(
                as_of=as_of, now=moment, actor=actor, products=products, partition=p, partitions=parts
            )
            for p in range(parts)
        ]
        for ctx, counts in zip(contexts, runner.run(engine, step, contexts), strict=True):
            if counts is None:
                report.skipped.append(f"{step.name}[{ctx.partition}]")
                continue
            _merge(totals, counts)
        report.steps[step.name] = totals
        if progress is not None:
            progress(step.name, index + 1, len(steps))
    return report


def _merge(totals: dict[str, Any], counts: dict[str, Any]) -> None:
    for key, value in counts.items():
        if isinstance(value, dict):
            _merge(totals.setdefault(key, {}), value)
        elif isinstance(value, int | float):
            totals[key] = totals.get(key, 0) + value
        else:
            totals[key] = value


def last_completed_day(engine: Engine, *, steps: Sequence[Step] = STEPS) -> dt.date | None:
    """The latest day whose final step is recorded."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.max(CycleStepRun.as_of)).where(CycleStepRun.step == steps[-1].name)
        ).scalar()


def catch_up(
    engine: Engine,
    *,
    through: dt.date,
    actor: str,
    partitions: int = 1,
    progress: ProgressFn | None = None,
    now: dt.datetime | None = None,
    executor: Executor | None = None,
) -> list[CycleReport]:
    """Run every day after the last completed one up to ``through``, in date order."""
    last = last_completed_day(engine)
    start = through if last is None else min(last + dt.timedelta(days=1), through)
    reports = []
    day = start
    while day <= through:
        reports.append(
            run_day(
                engine,
                as_of=day,
                actor=actor,
                partitions=partitions,
                progress=progress,
                now=now,
                executor=executor,
            )
        )
        day += dt.timedelta(days=1)
    return reports
