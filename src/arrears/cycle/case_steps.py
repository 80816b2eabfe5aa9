"""Cycle steps over the case book: open cases for newly overdue accounts, resolve paid and settled
ones, judge promises and plans that fell due, apply the escalation rules. Book-wide (one partition)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from arrears.cases.closure import check_follow_ups, complete_settlements, detect_payoffs
from arrears.cases.legal import evaluate_escalations
from arrears.cases.negotiation import judge_promises_due, monitor_plans_due
from arrears.cases.service import open_cases_for_overdue
from arrears.cycle.ledger_steps import CycleContext

__all__ = ["step_cases", "step_promises"]


def step_cases(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    """Cases for accounts that became overdue; payoffs, completed settlements and follow-ups."""
    opened = open_cases_for_overdue(conn, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
    with Session(bind=conn, autoflush=False) as session:
        paid = detect_payoffs(session, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
        settled = complete_settlements(session, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
        follow = check_follow_ups(session, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
        session.flush()
    return {"opened": opened, "paid_off": len(paid), "settled": _count(settled), "follow_ups": len(follow)}


def step_promises(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    """Promises and plans that fell due are judged from the ledger; escalation rules applied."""
    with Session(bind=conn, autoflush=False) as session:
        promises = judge_promises_due(session, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
        plans = monitor_plans_due(session, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
        escalated = evaluate_escalations(session, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
        session.flush()
    by_status: dict[str, int] = {}
    for status in promises.values():
        by_status[f"promise_{status}"] = by_status.get(f"promise_{status}", 0) + 1
    for status in plans.values():
        by_status[f"plan_{status}"] = by_status.get(f"plan_{status}", 0) + 1
    return {**by_status, "escalated": len(escalated)}


def _count(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return int(value or 0)
