"""Negotiation: promises to pay, instalment plans, waivers and settlement offers with authority limits.

Promises and plans are judged from the ledger (money received on the case's accounts), every open one
at once. Concessions within the actor's authority apply at once; above it they wait for approval by a
role whose limit covers them, and the approval is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.cases import daily
from arrears.cases.policy import default_policy
from arrears.cases.service import (
    COMPONENTS,
    audit_case,
    case_accounts,
    case_positions,
    facts_for,
    fire_event,
    flush_case,
    get_case,
    parse_choice,
    place_hold,
)
from arrears.cases.tables import Case, CaseAccount, Concession, Plan, Promise
from arrears.domain.cases import negotiation as rules
from arrears.domain.cases.enums import (
    Channel,
    ConcessionKind,
    ConcessionStatus,
    Event,
    HoldKind,
    PlanStatus,
    PromiseStatus,
    Stage,
)
from arrears.domain.cases.machine import fire
from arrears.domain.cases.policy import CasePolicy
from arrears.domain.money import from_minor
from arrears.domain.schedules import add_months, payment_plan
from arrears.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from arrears.store import tables

__all__ = [
    "WAIVABLE",
    "accept_plan",
    "approve_concession",
    "case_payments",
    "forbear_plan",
    "has_active_plan",
    "judge_promises_due",
    "make_promise",
    "monitor_plans_due",
    "offer_settlement",
    "propose_plan",
    "reject_concession",
    "request_waiver",
]

# 减免 covers penalty interest, compound interest and fees; principal and interest only go in a settlement.
WAIVABLE = ("penalty", "compound", "fee")


def case_payments(session: Session, case_ids: Sequence[int] | None = None) -> pl.DataFrame:
    """Net money received per case and day: case_id, paid_on, amount_minor (payments less reversals)."""
    e = tables.LedgerEntry
    query = (
        select(CaseAccount.case_id, e.effective_on, *[getattr(e, f"{c}_minor") for c in COMPONENTS])
        .join(CaseAccount, CaseAccount.account_id == e.account_id)
        .where(CaseAccount.is_excluded.is_(False), e.kind.in_(["payment", "reversal"]))
    )
    if case_ids is not None:
        query = query.where(CaseAccount.case_id.in_(list(case_ids)))
    rows = session.execute(query).all()
    frame = pl.DataFrame(
        [(r[0], r[1], -sum(r[2:])) for r in rows],
        schema={"case_id": pl.Int64, "paid_on": pl.Date, "amount_minor": pl.Int64},
        orient="row",
    )
    return frame.group_by("case_id", "paid_on").agg(pl.col("amount_minor").sum()).sort("case_id", "paid_on")


def _positive(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(
            f"{field} must be a positive amount in minor units", field=field, value=str(value)
        )
    return value


def _arrange(
    session: Session, case: Case, *, actor: str, at: dt.datetime, details: Mapping[str, Any]
) -> None:
    if case.stage != Stage.ARRANGED.value:
        fire_event(session, case, Event.ARRANGE, actor=actor, at=at, details=details)


# -- promises ---------------------------------------------------------------------------------------


def make_promise(
    session: Session,
    *,
    case_id: int,
    amount_minor: int,
    due_on: dt.date,
    channel: Channel | str,
    actor: str,
    at: dt.datetime,
    expected_version: int | None = None,
) -> Promise:
    """Record a promise to pay; the case moves to arranged. A pending earlier promise is replaced."""
    _positive(amount_minor, "amount_minor")
    channel_v: Channel = parse_choice(Channel, channel, "channel")
    case = get_case(session, case_id, expected_version=expected_version)
    if due_on < at.date():
        raise ValidationError("a promise falls due today or later", field="due_on", value=due_on.isoformat())
    if case.stage != Stage.ARRANGED.value:
        fire(case.stage, Event.ARRANGE, facts_for(session, case))  # refuse before writing anything
    for old in session.scalars(
        select(Promise).where(Promise.case_id == case.id, Promise.status == PromiseStatus.PENDING.value)
    ):
        old.status = PromiseStatus.CANCELLED.value
    promise = Promise(
        case_id=case.id,
        amount_minor=amount_minor,
        currency=case.currency,
        made_on=at.date(),
        due_on=due_on,
        channel=channel_v.value,
        status=PromiseStatus.PENDING.value,
        paid_minor=0,
        created_at=at,
        created_by=actor,
    )
    session.add(promise)
    audit_case(
        session,
        case,
        actor=actor,
        action="case.promise",
        at=at,
        details={"amount_minor": amount_minor, "due_on": due_on.isoformat(), "channel": channel_v.value},
    )
    _arrange(session, case, actor=actor, at=at, details={"promise_id": promise.id})
    return promise


def has_active_plan(session: Session, case: Case) -> bool:
    """Whether the case has an active or suspended plan."""
    return (
        session.scalar(
            select(Plan.id).where(
                Plan.case_id == case.id,
                Plan.status.in_([PlanStatus.ACTIVE.value, PlanStatus.SUSPENDED.value]),
            )
        )
        is not None
    )


def judge_promises_due(
    session: Session, *, as_of: dt.date, actor: str, at: dt.datetime, policy: CasePolicy | None = None
) -> dict[int, str]:
    """Judge every pending promise from the ledger; returns {promise_id: new status} for those decided.

    A broken or partially kept promise is a broken-promise event on the case (arranged → negotiating,
    counted for escalation); a kept one returns the case to negotiating unless a plan is active.
    Set-based (:func:`arrears.cases.daily.judge_promises_due`).
    """
    session.flush()
    result = daily.judge_promises_due(session.connection(), as_of=as_of, actor=actor, at=at, policy=policy)
    session.expire_all()
    return result


def propose_plan(
    session: Session,
    *,
    case_id: int,
    months: int,
    first_due_on: dt.date,
    as_of: dt.date,
    total_minor: int | None = None,
    income_minor: int | None = None,
    expenses_minor: int | None = None,
    dependants: int = 0,
    override_reason: str | None = None,
    actor: str,
    at: dt.datetime,
    policy: CasePolicy | None = None,
) -> Plan:
    """Propose an instalment plan (个性化分期) of the case balance, or of ``total_minor``, over ``months``.

    With income and expenses given, the instalment is checked against the largest sustainable one; a
    plan above it is flagged and needs ``override_reason``.
    """
    policy = policy or default_policy()
    if not 1 <= months <= policy.plan.max_months:
        raise ValidationError(
            f"months must be between 1 and {policy.plan.max_months}", field="months", value=months
        )
    case = get_case(session, case_id)
    if not Stage(case.stage).is_open:
        raise ConflictError(f"case {case.id} is {case.stage}; plans are for open cases", case=case.id)
    total = (
        total_minor
        if total_minor is not None
        else int(case_positions(session, case, as_of=as_of)["total_minor"].sum())
    )
    _positive(total, "total_minor")
    schedule = payment_plan(from_minor(total, case.currency), months, first_due_on, case.currency)
    rows = schedule.to_minor_rows()
    largest = max(r[2] for r in rows)
    sustainable = None
    above = False
    if income_minor is not None or expenses_minor is not None:
        assessment = rules.assess_affordability(
            income_minor=income_minor or 0,
            expenses_minor=expenses_minor or 0,
            dependants=dependants,
            currency=case.currency,
            policy=policy,
        )
        sustainable = assessment.max_instalment_minor
        above = not assessment.is_sustainable(largest)
        if above and not (override_reason and override_reason.strip()):
            raise ValidationError(
                f"the instalment {largest} is above the sustainable {sustainable} (minor units); give a reason to "
                "propose it anyway",
                field="override_reason",
                instalment_minor=largest,
                sustainable_minor=sustainable,
            )
    plan = Plan(
        case_id=case.id,
        status=PlanStatus.PROPOSED.value,
        currency=case.currency,
        total_minor=total,
        starts_on=at.date(),
        instalments={"due_on": [r[1].isoformat() for r in rows], "amount": [r[2] for r in rows]},
        max_sustainable_minor=sustainable,
        is_above_affordability=above,
        override_reason=override_reason,
        created_at=at,
        created_by=actor,
    )
    session.add(plan)
    audit_case(
        session,
        case,
        actor=actor,
        action="case.plan_proposed",
        at=at,
        details={
            "total_minor": total,
            "months": months,
            "first_due_on": first_due_on.isoformat(),
            "above_affordability": above,
            "override_reason": override_reason,
        },
    )
    return plan


def _plan(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFoundError(f"no plan {plan_id}", plan=plan_id)
    return plan


def accept_plan(session: Session, *, plan_id: int, actor: str, at: dt.datetime) -> Plan:
    """The debtor accepted the plan: it becomes active and the case arranged."""
    plan = _plan(session, plan_id)
    if plan.status != PlanStatus.PROPOSED.value:
        raise ConflictError(
            f"plan {plan.id} is {plan.status}; only a proposed plan can be accepted", plan=plan.id
        )
    case = get_case(session, plan.case_id)
    if has_active_plan(session, case):
        raise ConflictError(f"case {case.id} already has an active plan", case=case.id)
    if case.stage != Stage.ARRANGED.value:
        fire(case.stage, Event.ARRANGE, facts_for(session, case))
    plan.status = PlanStatus.ACTIVE.value
    plan.accepted_at = at
    plan.starts_on = at.date()
    audit_case(session, case, actor=actor, action="case.plan_accepted", at=at, details={"plan_id": plan.id})
    _arrange(session, case, actor=actor, at=at, details={"plan_id": plan.id})
    return plan


def monitor_plans_due(
    session: Session, *, as_of: dt.date, actor: str, at: dt.datetime, policy: CasePolicy | None = None
) -> dict[int, str]:
    """The daily check of every active plan: a missed instalment beyond grace breaks it; paid ends it.

    Suspended plans are skipped until their suspension ends. Returns {plan_id: new status}.
    Set-based (:func:`arrears.cases.daily.monitor_plans_due`).
    """
    session.flush()
    result = daily.monitor_plans_due(session.connection(), as_of=as_of, actor=actor, at=at, policy=policy)
    session.expire_all()
    return result


def forbear_plan(
    session: Session,
    *,
    plan_id: int,
    as_of: dt.date,
    until_on: dt.date | None = None,
    instalment_minor: int | None = None,
    reason: str,
    actor: str,
    at: dt.datetime,
    policy: CasePolicy | None = None,
) -> Plan:
    """Hardship forbearance: suspend the plan until ``until_on``, or reduce its instalment.

    What is still unpaid is re-planned from ``as_of``: after a suspension in as many instalments as
    were left, the first a month after ``until_on``; after a reduction in instalments of
    ``instalment_minor``. A hardship hold stops escalation meanwhile (CONC 7.3.4R).
    """
    policy = policy or default_policy()
    if (until_on is None) == (instalment_minor is None):
        raise ValidationError("give either until_on (suspend) or instalment_minor (reduce)", field="until_on")
    plan = _plan(session, plan_id)
    if plan.status not in (PlanStatus.ACTIVE.value, PlanStatus.SUSPENDED.value):
        raise ConflictError(
            f"plan {plan.id} is {plan.status}; only an active plan can be eased", plan=plan.id
        )
    case = get_case(session, plan.case_id)
    payments = case_payments(session, [case.id])
    paid = int(
        payments.filter((pl.col("paid_on") >= plan.starts_on) & (pl.col("paid_on") <= as_of))[
            "amount_minor"
        ].sum()
    )
    remaining = plan.total_minor - paid
    _positive(remaining, "remaining_minor")
    dues = [dt.date.fromisoformat(d) for d in plan.instalments["due_on"]]
    amounts = plan.instalments["amount"]
    covered, left = 0, 0
    for amount in amounts:
        covered += amount
        if covered > paid:
            left += 1
    if until_on is not None:
        if until_on <= as_of:
            raise ValidationError("the suspension ends after as_of", field="until_on")
        first = add_months(until_on, 1)
        schedule = payment_plan(from_minor(remaining, case.currency), max(left, 1), first, case.currency)
        new_amounts = [r[2] for r in schedule.to_minor_rows()]
        new_dues = [r[1] for r in schedule.to_minor_rows()]
        plan.status = PlanStatus.SUSPENDED.value
        plan.suspended_until_on = until_on
    else:
        step = _positive(instalment_minor or 0, "instalment_minor")
        parts = -(-remaining // step)
        if parts > policy.plan.max_months:
            raise ValidationError(
                f"{parts} instalments exceed the {policy.plan.max_months} months a plan may run",
                field="instalment_minor",
            )
        first = next((d for d in dues if d > as_of), add_months(dues[-1], 1))
        new_amounts = [step] * (parts - 1) + [remaining - step * (parts - 1)]
        new_dues = [add_months(first, k) for k in range(parts)]
    plan.total_minor = remaining
    plan.starts_on = as_of + dt.timedelta(days=1)
    plan.instalments = {"due_on": [d.isoformat() for d in new_dues], "amount": new_amounts}
    audit_case(
        session,
        case,
        actor=actor,
        action="case.plan_forbearance",
        at=at,
        details={
            "plan_id": plan.id,
            "mode": "suspend" if until_on else "reduce",
            "reason": reason,
            "remaining_minor": remaining,
            "instalments": len(new_amounts),
        },
    )
    if not any(h == HoldKind.HARDSHIP for h in facts_for(session, case).holds):
        place_hold(
            session,
            case_id=case.id,
            kind=HoldKind.HARDSHIP,
            reason=reason,
            until_on=until_on,
            actor=actor,
            at=at,
        )
    return plan


# -- concessions ------------------------------------------------------------------------------------


def _case_total(session: Session, case: Case, as_of: dt.date) -> int:
    return int(case_positions(session, case, as_of=as_of)["total_minor"].sum())


def _decide(
    session: Session,
    concession: Concession,
    case: Case,
    *,
    actor: str,
    role: str,
    at: dt.datetime,
    as_of: dt.date,
) -> None:
    concession.decided_by = actor
    concession.decided_role = role
    concession.decided_at = at
    if concession.kind == ConcessionKind.WAIVER.value:
        _post_waiver(session, concession, at=at, as_of=as_of)
        concession.status = ConcessionStatus.APPLIED.value
    else:
        concession.status = ConcessionStatus.APPROVED.value


def _post_waiver(session: Session, concession: Concession, *, at: dt.datetime, as_of: dt.date) -> None:
    details = concession.details
    session.add(
        tables.LedgerEntry(
            account_id=details["account_id"],
            key=f"waiver:concession-{concession.id}",
            kind="waiver",
            effective_on=as_of,
            posted_at=at,
            **{f"{c}_minor": -int(details.get(c, 0)) for c in COMPONENTS},
            memo=f"减免 waiver, concession {concession.id}",
        )
    )


def request_waiver(
    session: Session,
    *,
    case_id: int,
    account_external_id: str,
    amounts_minor: Mapping[str, int],
    reason: str,
    as_of: dt.date,
    actor: str,
    actor_role: str,
    at: dt.datetime,
    policy: CasePolicy | None = None,
) -> Concession:
    """Waive (减免) penalty interest, compound interest or fees on one account.

    Within the actor's authority the waiver is posted to the ledger at once (kind ``waiver``, negative
    amounts); above it, it waits for :func:`approve_concession`.
    """
    policy = policy or default_policy()
    unknown = sorted(set(amounts_minor) - set(WAIVABLE))
    if unknown:
        raise ValidationError(
            f"only {', '.join(WAIVABLE)} can be waived, not {', '.join(unknown)}", field="component"
        )
    if not amounts_minor or any(_positive(v, f"{k}_minor") <= 0 for k, v in amounts_minor.items()):
        raise ValidationError("name at least one amount to waive", field="amounts")
    case = get_case(session, case_id)
    pos = case_positions(session, case, as_of=as_of)
    account = next((a for a in case_accounts(session, case) if a.external_id == account_external_id), None)
    if account is None:
        raise NotFoundError(
            f"case {case.id} has no account {account_external_id!r}", account=account_external_id
        )
    row = pos.filter(pl.col("account_id") == account.id).row(0, named=True)
    for component, amount in amounts_minor.items():
        if amount > row[f"{component}_minor"]:
            raise ValidationError(
                f"cannot waive {amount} of {component}: the account owes {row[f'{component}_minor']} (minor units)",
                field=component,
            )
    total = sum(amounts_minor.values())
    return _request(
        session,
        case,
        kind=ConcessionKind.WAIVER,
        concession_minor=total,
        balance_minor=int(pos["total_minor"].sum()),
        details={"account_id": account.id, "account": account_external_id, **amounts_minor},
        settlement_minor=None,
        pay_by_on=None,
        reason=reason,
        actor=actor,
        role=actor_role,
        at=at,
        as_of=as_of,
        policy=policy,
    )


def offer_settlement(
    session: Session,
    *,
    case_id: int,
    settlement_minor: int,
    pay_by_on: dt.date,
    reason: str,
    as_of: dt.date,
    actor: str,
    actor_role: str,
    at: dt.datetime,
    policy: CasePolicy | None = None,
) -> Concession:
    """Offer a settlement: pay ``settlement_minor`` by ``pay_by_on`` and the rest is waived.

    The concession is the balance less the settlement amount; above the actor's authority the offer
    waits for approval. It completes through :func:`arrears.cases.closure.complete_settlements`.
    """
    policy = policy or default_policy()
    _positive(settlement_minor, "settlement_minor")
    case = get_case(session, case_id)
    balance = _case_total(session, case, as_of)
    if settlement_minor >= balance:
        raise ValidationError(
            f"a settlement is less than the balance {balance} (minor units); take a payment instead",
            field="settlement_minor",
        )
    if pay_by_on < as_of:
        raise ValidationError("the settlement is paid today or later", field="pay_by_on")
    return _request(
        session,
        case,
        kind=ConcessionKind.SETTLEMENT,
        concession_minor=balance - settlement_minor,
        balance_minor=balance,
        details={},
        settlement_minor=settlement_minor,
        pay_by_on=pay_by_on,
        reason=reason,
        actor=actor,
        role=actor_role,
        at=at,
        as_of=as_of,
        policy=policy,
    )


def _request(
    session: Session,
    case: Case,
    *,
    kind: ConcessionKind,
    concession_minor: int,
    balance_minor: int,
    details: dict[str, Any],
    settlement_minor: int | None,
    pay_by_on: dt.date | None,
    reason: str,
    actor: str,
    role: str,
    at: dt.datetime,
    as_of: dt.date,
    policy: CasePolicy,
) -> Concession:
    if not Stage(case.stage).is_open:
        raise ConflictError(f"case {case.id} is {case.stage}; concessions are for open cases", case=case.id)
    concession = Concession(
        case_id=case.id,
        kind=kind.value,
        status=ConcessionStatus.PENDING_APPROVAL.value,
        currency=case.currency,
        concession_minor=concession_minor,
        balance_minor=balance_minor,
        settlement_minor=settlement_minor,
        pay_by_on=pay_by_on,
        details=details,
        reason=reason,
        requested_by=actor,
        requested_role=role,
        requested_at=at,
    )
    session.add(concession)
    flush_case(session, case)
    limit = rules.authority_limit(
        policy, role=role, kind=kind, balance_minor=balance_minor, currency=case.currency
    )
    within = concession_minor <= limit
    if within:
        _decide(session, concession, case, actor=actor, role=role, at=at, as_of=as_of)
    audit_case(
        session,
        case,
        actor=actor,
        action=f"case.{kind.value}_requested",
        at=at,
        after={"status": concession.status},
        details={
            "concession_id": concession.id,
            "concession_minor": concession_minor,
            "role": role,
            "authority_limit_minor": limit,
            "settlement_minor": settlement_minor,
            "reason": reason,
        },
    )
    return concession


def approve_concession(
    session: Session,
    *,
    concession_id: int,
    as_of: dt.date,
    actor: str,
    actor_role: str,
    at: dt.datetime,
    policy: CasePolicy | None = None,
) -> Concession:
    """Approve a concession waiting for a higher authority.

    The approver's role must cover the concession, and the approver must not be the requester
    (four eyes). A waiver is posted to the ledger at once; a settlement becomes an approved offer.
    """
    policy = policy or default_policy()
    concession = session.get(Concession, concession_id)
    if concession is None:
        raise NotFoundError(f"no concession {concession_id}", concession=concession_id)
    if concession.status != ConcessionStatus.PENDING_APPROVAL.value:
        raise ConflictError(
            f"concession {concession.id} is {concession.status}, not waiting for approval",
            concession=concession.id,
        )
    if actor == concession.requested_by:
        raise PermissionDeniedError(
            f"{actor} requested concession {concession.id} and cannot approve it too",
            concession=concession.id,
        )
    kind = ConcessionKind(concession.kind)
    limit = rules.authority_limit(
        policy,
        role=actor_role,
        kind=kind,
        balance_minor=concession.balance_minor,
        currency=concession.currency,
    )
    if concession.concession_minor > limit:
        able = rules.roles_with_authority(
            policy,
            kind=kind,
            concession_minor=concession.concession_minor,
            balance_minor=concession.balance_minor,
            currency=concession.currency,
        )
        raise PermissionDeniedError(
            f"role {actor_role} may approve up to {limit}, not {concession.concession_minor} (minor units); "
            f"roles that may: {', '.join(able) or 'none'}",
            concession=concession.id,
            role=actor_role,
            limit_minor=limit,
        )
    case = get_case(session, concession.case_id)
    _decide(session, concession, case, actor=actor, role=actor_role, at=at, as_of=as_of)
    audit_case(
        session,
        case,
        actor=actor,
        action=f"case.{kind.value}_approved",
        at=at,
        before={"status": ConcessionStatus.PENDING_APPROVAL.value},
        after={"status": concession.status},
        details={"concession_id": concession.id, "role": actor_role, "authority_limit_minor": limit},
    )
    return concession


def reject_concession(
    session: Session, *, concession_id: int, reason: str, actor: str, actor_role: str, at: dt.datetime
) -> Concession:
    """Refuse a concession waiting for approval."""
    concession = session.get(Concession, concession_id)
    if concession is None:
        raise NotFoundError(f"no concession {concession_id}", concession=concession_id)
    if concession.status != ConcessionStatus.PENDING_APPROVAL.value:
        raise ConflictError(
            f"concession {concession.id} is {concession.status}, not waiting for approval",
            concession=concession.id,
        )
    case = get_case(session, concession.case_id)
    concession.status = ConcessionStatus.REJECTED.value
    concession.decided_by, concession.decided_role, concession.decided_at = actor, actor_role, at
    audit_case(
        session,
        case,
        actor=actor,
        action=f"case.{concession.kind}_rejected",
        at=at,
        details={"concession_id": concession.id, "reason": reason, "role": actor_role},
    )
    return concession
