"""Debt confirmation: confirming the case, itemising the debt, the validation period, and disputes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.cases.policy import default_policy
from arrears.cases.service import (
    COMPONENTS,
    audit_case,
    case_accounts,
    fire_event,
    get_case,
    parse_choice,
    place_hold,
    release_hold,
)
from arrears.cases.tables import CaseHold, DebtItemisation, Dispute
from arrears.domain.calendars import validation_period_end
from arrears.domain.cases.enums import DisputeForm, Event, HoldKind
from arrears.domain.cases.policy import CasePolicy, DisputePause
from arrears.errors import ConflictError, NotFoundError, ValidationError
from arrears.store import tables

__all__ = ["confirm_case", "itemise_debt", "record_dispute", "send_verification", "start_negotiation"]


def confirm_case(
    session: Session, *, case_id: int, actor: str, at: dt.datetime, expected_version: int | None = None
) -> None:
    """Initial contact → confirmed; refused until the debtor's identity has been verified."""
    case = get_case(session, case_id, expected_version=expected_version)
    fire_event(session, case, Event.CONFIRM, actor=actor, at=at)


def start_negotiation(
    session: Session, *, case_id: int, actor: str, at: dt.datetime, expected_version: int | None = None
) -> None:
    """Confirmed → negotiating."""
    case = get_case(session, case_id, expected_version=expected_version)
    fire_event(session, case, Event.NEGOTIATE, actor=actor, at=at)


def itemise_debt(
    session: Session,
    *,
    case_id: int,
    itemisation_on: dt.date,
    as_of: dt.date,
    notice_provided_on: dt.date | None = None,
    actor: str,
    at: dt.datetime,
    policy: CasePolicy | None = None,
) -> DebtItemisation:
    """The debt on the itemisation date and the interest, fees, payments and credits since (to ``as_of``).

    12 CFR 1006.34(c)(2)(vi)-(viii). current = itemisation + interest + fees − payments − credits. When
    the debtor's country sends validation notices and ``notice_provided_on`` is given, the assumed
    receipt and the end of the validation period are computed with weekends and legal public holidays
    excluded (12 CFR 1006.34(b)(5), :func:`validation_period_end`).
    """
    policy = policy or default_policy()
    if itemisation_on > as_of:
        raise ValidationError("the itemisation date must not be after as_of", field="itemisation_on")
    case = get_case(session, case_id)
    debtor = session.get_one(tables.Debtor, case.debtor_id)
    ids = [a.id for a in case_accounts(session, case)]
    e = tables.LedgerEntry
    rows = session.execute(
        select(e.kind, e.effective_on, *[getattr(e, f"{c}_minor") for c in COMPONENTS]).where(
            e.account_id.in_(ids), e.effective_on <= as_of
        )
    ).all()
    before = [r for r in rows if r.effective_on <= itemisation_on]
    since = [r for r in rows if r.effective_on > itemisation_on]
    itemised = sum(sum(r[2:]) for r in before)
    raises = [r for r in since if r.kind in ("charge", "accrual", "opening")]
    interest = sum(r.interest_minor + r.penalty_minor + r.compound_minor for r in raises)
    fees = sum(r.fee_minor + r.cost_minor for r in raises)
    payments = -sum(sum(r[2:]) for r in since if r.kind in ("payment", "reversal"))
    current = sum(sum(r[2:]) for r in rows)
    # Credits are every other reduction (waivers, adjustments), so that the identity holds exactly.
    credits = itemised + interest + fees - payments - current
    receipt_on = ends_on = None
    country = debtor.jurisdiction.split("-")[0]
    if notice_provided_on is not None:
        if country not in policy.validation_notice_countries:
            raise ValidationError(
                f"debtors in {debtor.jurisdiction} get no validation notice under the policy",
                field="notice_provided_on",
            )
        receipt_on, ends_on = validation_period_end(notice_provided_on, debtor.jurisdiction)
    record = DebtItemisation(
        case_id=case.id,
        currency=case.currency,
        itemisation_on=itemisation_on,
        as_of_on=as_of,
        itemisation_minor=itemised,
        interest_minor=interest,
        fees_minor=fees,
        payments_minor=payments,
        credits_minor=credits,
        current_minor=current,
        notice_provided_on=notice_provided_on,
        assumed_receipt_on=receipt_on,
        validation_ends_on=ends_on,
        created_at=at,
    )
    session.add(record)
    audit_case(
        session,
        case,
        actor=actor,
        action="case.itemise",
        at=at,
        details={
            "itemisation_on": itemisation_on.isoformat(),
            "current_minor": current,
            "validation_ends_on": ends_on and ends_on.isoformat(),
        },
    )
    return record


def record_dispute(
    session: Session,
    *,
    case_id: int,
    form: DisputeForm | str,
    received_at: dt.datetime,
    account_external_id: str | None = None,
    notes: str | None = None,
    actor: str,
    at: dt.datetime,
    policy: CasePolicy | None = None,
) -> Dispute:
    """Record a dispute and, where the policy says so, pause collection with a dispute hold.

    Whether it falls within the validation period is read from the latest itemisation with a notice.
    In the US only a written dispute within the period must pause collection until verification is
    sent (12 CFR 1006.38(d)(2)); elsewhere the default policy pauses on every dispute (CONC 7.14).
    """
    policy = policy or default_policy()
    form_v: DisputeForm = parse_choice(DisputeForm, form, "form")
    case = get_case(session, case_id)
    debtor = session.get_one(tables.Debtor, case.debtor_id)
    account_id = None
    if account_external_id is not None:
        account = next(
            (a for a in case_accounts(session, case) if a.external_id == account_external_id), None
        )
        if account is None:
            raise NotFoundError(
                f"case {case.id} has no account {account_external_id!r}", account=account_external_id
            )
        account_id = account.id
    notice = session.scalar(
        select(DebtItemisation)
        .where(DebtItemisation.case_id == case.id, DebtItemisation.validation_ends_on.is_not(None))
        .order_by(DebtItemisation.id.desc())
    )
    within = (
        notice is not None
        and notice.validation_ends_on is not None
        and received_at.date() <= notice.validation_ends_on
    )
    rule = policy.dispute_pause_for(debtor.jurisdiction.split("-")[0])
    pauses = rule is DisputePause.ALWAYS or (form_v is DisputeForm.WRITTEN and within)
    dispute = Dispute(
        case_id=case.id,
        account_id=account_id,
        form=form_v.value,
        received_at=received_at,
        is_within_validation_period=within,
        pauses_collection=pauses,
        status="open",
        notes=notes,
    )
    session.add(dispute)
    audit_case(
        session,
        case,
        actor=actor,
        action="case.dispute",
        at=at,
        details={
            "form": form_v.value,
            "within_validation_period": within,
            "pauses_collection": pauses,
            "account": account_external_id,
        },
    )
    if pauses:
        active = session.scalar(
            select(CaseHold).where(
                CaseHold.case_id == case.id,
                CaseHold.kind == HoldKind.DISPUTE.value,
                CaseHold.released_at.is_(None),
            )
        )
        hold = active or place_hold(
            session, case_id=case.id, kind=HoldKind.DISPUTE, reason="dispute", actor=actor, at=at
        )
        dispute.hold_id = hold.id
    session.flush()
    return dispute


def send_verification(session: Session, *, dispute_id: int, actor: str, at: dt.datetime) -> Dispute:
    """Record that verification of the debt was sent; the dispute's hold is released and collection resumes."""
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFoundError(f"no dispute {dispute_id}", dispute=dispute_id)
    if dispute.verification_sent_at is not None:
        raise ConflictError(f"verification of dispute {dispute_id} was already sent", dispute=dispute_id)
    case = get_case(session, dispute.case_id)
    dispute.verification_sent_at = at
    dispute.status = "verified"
    audit_case(
        session, case, actor=actor, action="case.verification_sent", at=at, details={"dispute_id": dispute.id}
    )
    open_disputes = session.scalars(
        select(Dispute).where(
            Dispute.case_id == case.id, Dispute.status == "open", Dispute.hold_id == dispute.hold_id
        )
    ).all()
    hold = session.get(CaseHold, dispute.hold_id) if dispute.hold_id is not None else None
    if hold is not None and hold.released_at is None and not open_disputes:
        release_hold(session, hold_id=hold.id, actor=actor, at=at, reason="verification sent")
    return dispute
