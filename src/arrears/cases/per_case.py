"""The case book's daily rules one case at a time, through the ORM and :func:`fire_event`.

This is the reference the set-based functions of :mod:`arrears.cases.daily` are tested against: the
same decisions, stages, counters, closure records and audit events, reached by loading each case and
firing its transition on its own. It is correct but slow on a large book (one flush and one audit
append per case); the daily cycle and the public services use :mod:`arrears.cases.daily`.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.cases.closure import resolve_case
from arrears.cases.daily import AUTO_ESCALATE
from arrears.cases.negotiation import case_payments, has_active_plan
from arrears.cases.policy import default_policy
from arrears.cases.service import (
    audit_case,
    case_positions,
    facts_for,
    fire_event,
    flush_case,
    get_case,
    positions_frame,
)
from arrears.cases.tables import Case, CaseAccount, Plan, Promise
from arrears.domain.cases import negotiation as rules
from arrears.domain.cases.enums import Event, PlanStatus, PromiseStatus, ResolutionReason, Stage
from arrears.domain.cases.escalation import escalation_frame
from arrears.domain.cases.machine import HOLD_BLOCKS
from arrears.domain.cases.policy import CasePolicy

__all__ = [
    "check_follow_ups",
    "detect_payoffs",
    "evaluate_escalations",
    "judge_promises_due",
    "monitor_plans_due",
]


def detect_payoffs(session: Session, *, as_of: dt.date, actor: str, at: dt.datetime) -> list[int]:
    """Resolve every open case whose included accounts owe nothing on ``as_of`` (paid in full)."""
    links = session.execute(
        select(CaseAccount.case_id, CaseAccount.account_id)
        .join(Case, Case.id == CaseAccount.case_id)
        .where(
            Case.stage.not_in([Stage.RESOLVED.value, Stage.CLOSED.value]), CaseAccount.is_excluded.is_(False)
        )
    ).all()
    if not links:
        return []
    frame = pl.DataFrame(links, schema={"case_id": pl.Int64, "account_id": pl.Int64}, orient="row")
    pos = positions_frame(session.connection(), frame["account_id"].to_list(), as_of)
    paid_off = (
        frame.join(pos.select("account_id", "total_minor"), on="account_id", how="left")
        .group_by("case_id")
        .agg(pl.col("total_minor").fill_null(0).sum())
        .filter(pl.col("total_minor") <= 0)
        .sort("case_id")["case_id"]
        .to_list()
    )
    for case_id in paid_off:
        resolve_case(
            session, case_id=case_id, reason=ResolutionReason.PAID_IN_FULL, as_of=as_of, actor=actor, at=at
        )
    return paid_off


def check_follow_ups(session: Session, *, as_of: dt.date, actor: str, at: dt.datetime) -> dict[int, str]:
    """Resolved cases: re-default within the follow-up period reopens the case; after it, the case closes.

    Returns {case_id: "redefault" | "end_follow_up"}.
    """
    resolved = list(session.scalars(select(Case).where(Case.stage == Stage.RESOLVED.value).order_by(Case.id)))
    result: dict[int, str] = {}
    for case in resolved:
        if case.follow_up_until_on is not None and as_of > case.follow_up_until_on:
            fire_event(session, case, Event.END_FOLLOW_UP, actor=actor, at=at)
            result[case.id] = Event.END_FOLLOW_UP.value
            continue
        pos = case_positions(session, case, as_of=as_of)
        if int(pos.select(pl.col("dpd").max()).item() or 0) > 0 and int(pos["total_minor"].sum()) > 0:
            fire_event(
                session, case, Event.REDEFAULT, actor=actor, at=at, details={"as_of": as_of.isoformat()}
            )
            result[case.id] = Event.REDEFAULT.value
    return result


def judge_promises_due(
    session: Session, *, as_of: dt.date, actor: str, at: dt.datetime, policy: CasePolicy | None = None
) -> dict[int, str]:
    """Judge every pending promise from the ledger; returns {promise_id: new status} for those decided.

    A broken or partially kept promise is a broken-promise event on the case (arranged → negotiating,
    counted for escalation); a kept one returns the case to negotiating unless a plan is active.
    """
    policy = policy or default_policy()
    pending = list(
        session.scalars(
            select(Promise).where(Promise.status == PromiseStatus.PENDING.value).order_by(Promise.id)
        )
    )
    if not pending:
        return {}
    frame = pl.DataFrame(
        [(p.id, p.case_id, p.amount_minor, p.made_on, p.due_on) for p in pending],
        schema={
            "promise_id": pl.Int64,
            "case_id": pl.Int64,
            "amount_minor": pl.Int64,
            "made_on": pl.Date,
            "due_on": pl.Date,
        },
        orient="row",
    )
    judged = rules.judge_promises(
        frame,
        case_payments(session, sorted({p.case_id for p in pending})),
        as_of=as_of,
        grace_days=policy.promise_grace_days,
    )
    by_id = {p.id: p for p in pending}
    decided: dict[int, str] = {}
    for row in judged.filter(pl.col("status") != PromiseStatus.PENDING.value).iter_rows(named=True):
        promise = by_id[row["promise_id"]]
        promise.status = row["status"]
        promise.paid_minor = row["paid_minor"]
        promise.judged_on = as_of
        decided[promise.id] = promise.status
        case = get_case(session, promise.case_id)
        audit_case(
            session,
            case,
            actor=actor,
            action=f"case.promise_{promise.status}",
            at=at,
            details={"promise_id": promise.id, "paid_minor": promise.paid_minor},
        )
        if case.stage == Stage.ARRANGED.value and not has_active_plan(session, case):
            event = Event.FULFIL if promise.status == PromiseStatus.KEPT.value else Event.BREAK
            fire_event(
                session, case, event, actor=actor, at=at, details={"promise_id": promise.id}, policy=policy
            )
        elif promise.status != PromiseStatus.KEPT.value:
            case.broken_promises += 1
            flush_case(session, case)
    return decided


# -- plans ------------------------------------------------------------------------------------------


def monitor_plans_due(
    session: Session, *, as_of: dt.date, actor: str, at: dt.datetime, policy: CasePolicy | None = None
) -> dict[int, str]:
    """The daily check of every active plan: a missed instalment beyond grace breaks it; paid ends it.

    Suspended plans are skipped until their suspension ends. Returns {plan_id: new status}.
    """
    policy = policy or default_policy()
    plans = [
        p
        for p in session.scalars(
            select(Plan)
            .where(Plan.status.in_([PlanStatus.ACTIVE.value, PlanStatus.SUSPENDED.value]))
            .order_by(Plan.id)
        )
        if p.suspended_until_on is None or p.suspended_until_on < as_of
    ]
    if not plans:
        return {}
    instalments = pl.DataFrame(
        [
            (p.id, n + 1, dt.date.fromisoformat(d), a)
            for p in plans
            for n, (d, a) in enumerate(zip(p.instalments["due_on"], p.instalments["amount"], strict=True))
        ],
        schema={"plan_id": pl.Int64, "number": pl.Int64, "due_on": pl.Date, "amount_minor": pl.Int64},
        orient="row",
    )
    payments = case_payments(session, sorted({p.case_id for p in plans}))
    starts = pl.DataFrame(
        {
            "plan_id": [p.id for p in plans],
            "case_id": [p.case_id for p in plans],
            "starts_on": [p.starts_on for p in plans],
        },
        schema={"plan_id": pl.Int64, "case_id": pl.Int64, "starts_on": pl.Date},
    )
    paid = (
        starts.join(payments, on="case_id", how="inner")
        .filter((pl.col("paid_on") >= pl.col("starts_on")) & (pl.col("paid_on") <= as_of))
        .group_by("plan_id")
        .agg(pl.col("amount_minor").sum().alias("paid_minor"))
    )
    judged = rules.monitor_plans(instalments, paid, as_of=as_of, grace_days=policy.plan.grace_days)
    by_id = {p.id: p for p in plans}
    changed: dict[int, str] = {}
    for row in judged.filter(pl.col("status") != PlanStatus.ACTIVE.value).iter_rows(named=True):
        plan = by_id[row["plan_id"]]
        plan.status = row["status"]
        plan.ended_on = as_of
        changed[plan.id] = plan.status
        case = get_case(session, plan.case_id)
        audit_case(
            session,
            case,
            actor=actor,
            action=f"case.plan_{plan.status}",
            at=at,
            details={
                "plan_id": plan.id,
                "paid_minor": row["paid_minor"],
                "missed_number": row["missed_number"],
                "missed_due_on": row["missed_due_on"] and row["missed_due_on"].isoformat(),
            },
        )
        if case.stage == Stage.ARRANGED.value:
            event = Event.BREAK if plan.status == PlanStatus.BROKEN.value else Event.FULFIL
            fire_event(session, case, event, actor=actor, at=at, details={"plan_id": plan.id}, policy=policy)
    for plan in plans:
        if plan.status == PlanStatus.SUSPENDED.value and plan.id not in changed:
            plan.status = PlanStatus.ACTIVE.value
    return changed


def evaluate_escalations(
    session: Session, *, as_of: dt.date, actor: str, at: dt.datetime, policy: CasePolicy | None = None
) -> dict[int, list[str]]:
    """Apply the policy's escalation rules to every open case at once; returns {case_id: fired rule ids}.

    Signals: broken promises, refusals, the case's highest DPD and days since the last right-party
    conversation (or since opening). Cases whose holds refuse escalation are left alone.
    """
    policy = policy or default_policy()
    cases = list(
        session.scalars(
            select(Case).where(Case.stage.in_([s.value for s in AUTO_ESCALATE])).order_by(Case.id)
        )
    )
    if not cases:
        return {}
    links = pl.DataFrame(
        session.execute(
            select(CaseAccount.case_id, CaseAccount.account_id).where(
                CaseAccount.case_id.in_([c.id for c in cases]), CaseAccount.is_excluded.is_(False)
            )
        ).all(),
        schema={"case_id": pl.Int64, "account_id": pl.Int64},
        orient="row",
    )
    pos = positions_frame(session.connection(), links["account_id"].to_list(), as_of)
    dpd = (
        links.join(pos.select("account_id", "dpd"), on="account_id", how="left")
        .group_by("case_id")
        .agg(pl.col("dpd").max().fill_null(0))
    )
    signals = pl.DataFrame(
        {
            "case_id": [c.id for c in cases],
            "broken_promises": [c.broken_promises for c in cases],
            "refusals": [c.refusals for c in cases],
            "days_without_right_party": [
                (as_of - (c.last_right_party_at or c.opened_at).date()).days for c in cases
            ],
        },
        schema={
            "case_id": pl.Int64,
            "broken_promises": pl.Int64,
            "refusals": pl.Int64,
            "days_without_right_party": pl.Int64,
        },
    ).join(dpd, on="case_id", how="left")
    fired = escalation_frame(signals, policy.escalation).filter(pl.col("fired").list.len() > 0)
    by_id = {c.id: c for c in cases}
    result: dict[int, list[str]] = {}
    for case_id, rule_ids in fired.iter_rows():
        case = by_id[case_id]
        holds = facts_for(session, case).holds
        if any(Event.ESCALATE in HOLD_BLOCKS[h] for h in holds):
            continue
        fire_event(
            session,
            case,
            Event.ESCALATE,
            actor=actor,
            at=at,
            details={"rules": list(rule_ids)},
            policy=policy,
        )
        result[case_id] = list(rule_ids)
    return result
