"""Escalation and the legal route: escalation rules, referral criteria, the legal matter and its costs."""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.cases import daily
from arrears.cases.policy import default_policy
from arrears.cases.service import (
    audit_case,
    case_accounts,
    case_positions,
    facts_for,
    fire_event,
    get_case,
    open_legal_matter,
    parse_choice,
)
from arrears.cases.tables import Case, LegalMatter
from arrears.domain.cases.enums import Event, LegalStep, Stage
from arrears.domain.cases.escalation import legal_refusals, limitation_expires_on
from arrears.domain.cases.policy import CasePolicy, amount_minor
from arrears.errors import IllegalTransitionError, NotFoundError, ValidationError
from arrears.store import tables

__all__ = [
    "advance_legal",
    "de_escalate_case",
    "escalate_case",
    "evaluate_escalations",
    "legal_criteria",
    "post_legal_cost",
    "refer_to_legal",
    "withdraw_legal",
]

_STEPS: Final = (
    LegalStep.REFERRED,
    LegalStep.DEMAND_LETTER,
    LegalStep.FILING,
    LegalStep.HEARING,
    LegalStep.JUDGMENT,
    LegalStep.ENFORCEMENT,
)


def escalate_case(
    session: Session,
    *,
    case_id: int,
    reason: str,
    actor: str,
    at: dt.datetime,
    expected_version: int | None = None,
) -> None:
    """Escalate by hand (催收升级); the strategy engine reacts to the escalated stage."""
    case = get_case(session, case_id, expected_version=expected_version)
    fire_event(session, case, Event.ESCALATE, actor=actor, at=at, details={"reason": reason, "rules": []})


def de_escalate_case(
    session: Session,
    *,
    case_id: int,
    reason: str,
    actor: str,
    at: dt.datetime,
    expected_version: int | None = None,
) -> None:
    """Escalated → negotiating (the debtor re-engaged)."""
    case = get_case(session, case_id, expected_version=expected_version)
    fire_event(session, case, Event.DE_ESCALATE, actor=actor, at=at, details={"reason": reason})


def evaluate_escalations(
    session: Session, *, as_of: dt.date, actor: str, at: dt.datetime, policy: CasePolicy | None = None
) -> dict[int, list[str]]:
    """Apply the policy's escalation rules to every open case at once; returns {case_id: fired rule ids}.

    Signals: broken promises, refusals, the case's highest DPD and days since the last right-party
    conversation (or since opening). Cases whose holds refuse escalation are left alone.
    Set-based (:func:`arrears.cases.daily.evaluate_escalations`).
    """
    session.flush()
    result = daily.evaluate_escalations(session.connection(), as_of=as_of, actor=actor, at=at, policy=policy)
    session.expire_all()
    return result


def legal_criteria(
    session: Session, case: Case, *, as_of: dt.date, policy: CasePolicy | None = None
) -> list[str]:
    """Why the case may not be referred to legal (empty when it may).

    Minimum balance per currency; never a time-barred debt: each account's limitation runs from the
    later of its oldest unpaid due date and its last payment (12 CFR 1006.26(b); CONC 7.15.3G);
    no active dispute, bankruptcy, deceased or breathing-space hold.
    """
    policy = policy or default_policy()
    debtor = session.get_one(tables.Debtor, case.debtor_id)
    pos = case_positions(session, case, as_of=as_of)
    e = tables.LedgerEntry
    last_paid = dict(
        session.execute(
            select(e.account_id, func.max(e.effective_on))
            .where(
                e.account_id.in_(pos["account_id"].to_list()), e.kind == "payment", e.effective_on <= as_of
            )
            .group_by(e.account_id)
        ).all()
    )
    years = policy.limitation_years(debtor.jurisdiction.split("-")[0])
    expiries = []
    for row in pos.iter_rows(named=True):
        anchors = [
            d for d in (row["oldest_unpaid_due_on"], last_paid.get(row["account_id"])) if d is not None
        ]
        if anchors:
            expiries.append(limitation_expires_on(max(anchors), years))
    earliest = min(expiries) if expiries else dt.date.max
    return legal_refusals(
        balance_minor=int(pos["total_minor"].sum()),
        min_balance_minor=amount_minor(policy.legal.min_balance, case.currency),
        currency=case.currency,
        expires_on=earliest,
        as_of=as_of,
        holds=facts_for(session, case).holds,
    )


def refer_to_legal(
    session: Session,
    *,
    case_id: int,
    as_of: dt.date,
    actor: str,
    at: dt.datetime,
    policy: CasePolicy | None = None,
) -> LegalMatter:
    """Escalated → legal (法律途径) when the criteria hold; opens the legal matter."""
    case = get_case(session, case_id)
    refusals = legal_criteria(session, case, as_of=as_of, policy=policy)
    facts = facts_for(session, case, legal_criteria_met=not refusals, legal_refusals=tuple(refusals))
    fire_event(session, case, Event.REFER_LEGAL, actor=actor, at=at, facts=facts, policy=policy)
    matter = open_legal_matter(session, case)
    assert matter is not None
    return matter


def withdraw_legal(session: Session, *, case_id: int, reason: str, actor: str, at: dt.datetime) -> None:
    """Legal → escalated; the legal matter is closed."""
    case = get_case(session, case_id)
    fire_event(session, case, Event.WITHDRAW_LEGAL, actor=actor, at=at, details={"reason": reason})


def _matter(session: Session, case: Case) -> LegalMatter:
    matter = open_legal_matter(session, case)
    if matter is None or case.stage != Stage.LEGAL.value:
        raise IllegalTransitionError(
            f"case {case.id} is in stage {case.stage}, not legal; refer it first",
            stage=case.stage,
            event="legal",
        )
    return matter


def advance_legal(
    session: Session,
    *,
    case_id: int,
    step: LegalStep | str,
    court: str | None = None,
    reference_no: str | None = None,
    deadline_on: dt.date | None = None,
    deadline_label: str | None = None,
    is_asset_frozen: bool | None = None,
    actor: str,
    at: dt.datetime,
) -> LegalMatter:
    """Move the legal matter to its next step: demand letter → filing → hearing → judgment → enforcement.

    The same step may be given again to record a court, reference number, deadline or asset freeze.
    """
    step_v: LegalStep = parse_choice(LegalStep, step, "step")
    case = get_case(session, case_id)
    matter = _matter(session, case)
    current = LegalStep(matter.step)
    if step_v not in _STEPS or _STEPS.index(step_v) not in (_STEPS.index(current), _STEPS.index(current) + 1):
        expected = _STEPS[min(_STEPS.index(current) + 1, len(_STEPS) - 1)]
        raise IllegalTransitionError(
            f"the legal matter of case {case.id} is at {current.value}; the next step is {expected.value}, "
            f"not {step_v.value}",
            stage=current.value,
            event=step_v.value,
        )
    if is_asset_frozen and step_v not in (
        LegalStep.FILING,
        LegalStep.HEARING,
        LegalStep.JUDGMENT,
        LegalStep.ENFORCEMENT,
    ):
        raise ValidationError("an asset freeze (财产保全) is ordered from filing on", field="is_asset_frozen")
    before = {"step": matter.step}
    matter.step = step_v.value
    for name, value in (
        ("court", court),
        ("reference_no", reference_no),
        ("deadline_on", deadline_on),
        ("deadline_label", deadline_label),
        ("is_asset_frozen", is_asset_frozen),
    ):
        if value is not None:
            setattr(matter, name, value)
    matter.updated_at = at
    audit_case(
        session,
        case,
        actor=actor,
        action="case.legal_step",
        at=at,
        before=before,
        after={
            "step": matter.step,
            "court": matter.court,
            "reference_no": matter.reference_no,
            "deadline_on": matter.deadline_on and matter.deadline_on.isoformat(),
            "is_asset_frozen": matter.is_asset_frozen,
        },
    )
    return matter


def post_legal_cost(
    session: Session,
    *,
    case_id: int,
    account_external_id: str,
    amount_minor: int,
    memo: str,
    effective_on: dt.date,
    actor: str,
    at: dt.datetime,
) -> tables.LedgerEntry:
    """Post a legal cost (实现债权的费用) to the ledger's cost component of one account of the case."""
    if isinstance(amount_minor, bool) or amount_minor <= 0:
        raise ValidationError("a legal cost is a positive amount in minor units", field="amount_minor")
    case = get_case(session, case_id)
    matter = _matter(session, case)
    account = next((a for a in case_accounts(session, case) if a.external_id == account_external_id), None)
    if account is None:
        raise NotFoundError(
            f"case {case.id} has no account {account_external_id!r}", account=account_external_id
        )
    count = session.scalar(
        select(func.count())
        .select_from(tables.LedgerEntry)
        .where(
            tables.LedgerEntry.account_id == account.id,
            tables.LedgerEntry.key.like(f"legal-cost:{matter.id}:%"),
        )
    )
    entry = tables.LedgerEntry(
        account_id=account.id,
        key=f"legal-cost:{matter.id}:{(count or 0) + 1}",
        kind="charge",
        effective_on=effective_on,
        posted_at=at,
        principal_minor=0,
        interest_minor=0,
        penalty_minor=0,
        compound_minor=0,
        fee_minor=0,
        cost_minor=amount_minor,
        memo=memo,
    )
    session.add(entry)
    matter.costs_minor += amount_minor
    matter.updated_at = at
    audit_case(
        session,
        case,
        actor=actor,
        action="case.legal_cost",
        at=at,
        details={"account": account_external_id, "amount_minor": amount_minor, "memo": memo},
    )
    return entry
