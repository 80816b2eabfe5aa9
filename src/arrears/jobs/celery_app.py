"""The Celery application: ``celery -A arrears.jobs.celery_app worker`` (or ``arrears worker``).

Tasks take ids and dates, never objects; each is idempotent (a cycle step records itself in the same
transaction as its writes, and a rerun skips a recorded step); database errors that may pass are
retried, bad input is not.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from arrears import bootstrap
from arrears.cycle.ledger_steps import CycleContext
from arrears.cycle.runner import STEPS, Step, products_for, run_step

__all__ = ["QUEUE", "CeleryExecutor", "app", "run_partition"]

QUEUE = os.environ.get("ARREARS_QUEUE", "arrears")


def make_app() -> Celery:
    settings = bootstrap.settings()
    celery = Celery("arrears", broker=settings.broker_url, backend=settings.result_backend)
    celery.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        result_expires=86_400,
    )
    return celery


app = make_app()
_STEPS = {step.name: step for step in STEPS}


@app.task(  # type: ignore[untyped-decorator]
    name="arrears.cycle.run_partition",
    bind=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    time_limit=3_600,
    soft_time_limit=3_300,
)
def run_partition(
    self: Any, as_of: str, step: str, partition: int, partitions: int, actor: str, now: str
) -> dict[str, Any]:
    """Run one step of one day for one partition (skipped if already recorded)."""
    day = dt.date.fromisoformat(as_of)
    moment = dt.datetime.fromisoformat(now)
    with bootstrap.open_engine() as engine:
        ctx = CycleContext(
            as_of=day, now=moment, actor=actor, products=products_for(engine, moment),
            partition=partition, partitions=partitions,
        )  # fmt: skip
        try:
            counts = run_step(engine, _STEPS[step], ctx)
        except DBAPIError as exc:
            # Two workers on one partition: the loser's unique keys collide; a retry finds it done.
            if exc.connection_invalidated or "unique" in str(exc).lower() or "duplicate" in str(exc).lower():
                raise self.retry(exc=exc, countdown=1) from exc
            raise
    return {"skipped": True} if counts is None else counts


class CeleryExecutor:
    """Partitions as Celery tasks on any number of workers; waits for all before the next step."""

    def __init__(self, *, timeout_s: float = 3_600, queue: str | None = None) -> None:
        self.timeout_s = timeout_s
        self.queue = queue

    def run(
        self, engine: Engine, step: Step, contexts: Sequence[CycleContext]
    ) -> list[dict[str, Any] | None]:
        from celery import group

        signatures = [
            run_partition.si(
                ctx.as_of.isoformat(),
                step.name,
                ctx.partition,
                ctx.partitions,
                ctx.actor,
                ctx.now.isoformat(),
            ).set(queue=self.queue or QUEUE)
            for ctx in contexts
        ]
        results = group(signatures).apply_async().get(timeout=self.timeout_s, propagate=True)
        return [None if r.get("skipped") else r for r in results]
