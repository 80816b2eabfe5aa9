"""Cycle steps over the case book: open cases for newly overdue accounts, resolve paid and settled
ones, judge promises and plans that fell due, apply the escalation rules. Book-wide (one partition).

Everything but settlements (rare, one offer at a time) is set-based (:mod:`arrears.cases.daily`):
whole-column reads through joins, the transition table evaluated in bulk, only changed rows written.
Positions come from the day's ``daily_positions`` snapshot, written by the positions step before:
payoffs and the highest days past due of each case are summed in the database (the cases opened today
are judged from the rows read to open them), and only the accounts of resolved cases are read for the
follow-ups.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from arrears.cases import daily
from arrears.cases.closure import complete_settlements
from arrears.cases.service import positions_frame
from arrears.cases.tables import CaseAccount, Concession
from arrears.cycle.ledger_steps import CycleContext
from arrears.domain.cases.enums import Stage

__all__ = ["step_cases", "step_promises"]


def step_cases(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    """Cases for accounts that became overdue; payoffs, completed settlements and follow-ups."""
    opened, paid = daily.open_cases_and_detect_payoffs(conn, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
    with Session(bind=conn, autoflush=False) as session:
        settled = complete_settlements(session, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
        session.flush()
    # Follow-ups look only at the accounts of resolved cases (those resolved today included).
    positions = daily.book_positions(conn, ctx.as_of, stages=[Stage.RESOLVED.value])
    if settled:
        positions = _refresh(conn, positions, list(settled), ctx)
    follow = daily.check_follow_ups(conn, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now, positions=positions)
    return {"opened": opened, "paid_off": len(paid), "settled": len(settled), "follow_ups": len(follow)}


def _refresh(
    conn: Connection, positions: pl.DataFrame, concessions: list[int], ctx: CycleContext
) -> pl.DataFrame:
    """The snapshot with the accounts of settled cases recomputed: their remainder was just waived."""
    accounts = list(
        conn.execute(
            select(CaseAccount.account_id)
            .join(Concession, Concession.case_id == CaseAccount.case_id)
            .where(Concession.id.in_(concessions))  # the offers settled today: a handful
        ).scalars()
    )
    fresh = positions_frame(conn, accounts, ctx.as_of).select(
        "account_id", pl.col("total_minor").cast(pl.Int64), pl.col("dpd").cast(pl.Int64)
    )
    return pl.concat([positions.join(fresh, on="account_id", how="anti"), fresh])


def step_promises(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    """Promises and plans that fell due are judged from the ledger; escalation rules applied."""
    promises = daily.judge_promises_due(conn, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
    plans = daily.monitor_plans_due(conn, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now)
    escalated = daily.evaluate_escalations(conn, as_of=ctx.as_of, actor=ctx.actor, at=ctx.now, snapshot=True)
    by_status: dict[str, int] = {}
    for status in promises.values():
        by_status[f"promise_{status}"] = by_status.get(f"promise_{status}", 0) + 1
    for status in plans.values():
        by_status[f"plan_{status}"] = by_status.get(f"plan_{status}", 0) + 1
    return {**by_status, "escalated": len(escalated)}
