"""Closure: payoff detected from the ledger, settlements completed by waiving the rest, resolution records
(结清证明 data), and the follow-up period that reopens a case on re-default."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.cases import daily
from arrears.cases.negotiation import case_payments
from arrears.cases.policy import default_policy
from arrears.cases.service import (
    COMPONENTS,
    audit_case,
    case_positions,
    fire_event,
    get_case,
    parse_choice,
)
from arrears.cases.tables import ClosureRecord, Concession
from arrears.domain.cases.enums import ConcessionKind, ConcessionStatus, Event, ResolutionReason
from arrears.domain.cases.policy import CasePolicy
from arrears.errors import ValidationError
from arrears.store import tables

__all__ = ["check_follow_ups", "closure_record", "complete_settlements", "detect_payoffs", "resolve_case"]


def resolve_case(
    session: Session,
    *,
    case_id: int,
    reason: ResolutionReason | str,
    as_of: dt.date,
    actor: str,
    at: dt.datetime,
    expected_version: int | None = None,
    policy: CasePolicy | None = None,
) -> ClosureRecord:
    """Resolve the case (债务结清) with a reason and write its closure record.

    Paid in full needs a zero balance; cured needs every account back to current (0 DPD).
    """
    reason_v: ResolutionReason = parse_choice(ResolutionReason, reason, "reason")
    case = get_case(session, case_id, expected_version=expected_version)
    pos = case_positions(session, case, as_of=as_of)
    if reason_v is ResolutionReason.PAID_IN_FULL and int(pos["total_minor"].sum()) > 0:
        raise ValidationError(
            f"case {case.id} still owes {int(pos['total_minor'].sum())} (minor units); it is not paid in full",
            field="reason",
        )
    if reason_v is ResolutionReason.CURED and int(pos.select(pl.col("dpd").max()).item() or 0) > 0:
        raise ValidationError(f"case {case.id} is still past due; it is not cured", field="reason")
    fire_event(session, case, Event.RESOLVE, actor=actor, at=at, reason=reason_v, policy=policy)
    record = closure_record(session, case.id)
    assert record is not None
    return record


def closure_record(session: Session, case_id: int) -> ClosureRecord | None:
    """The latest closure record of the case, if it was resolved."""
    return session.scalar(
        select(ClosureRecord).where(ClosureRecord.case_id == case_id).order_by(ClosureRecord.id.desc())
    )


def detect_payoffs(session: Session, *, as_of: dt.date, actor: str, at: dt.datetime) -> list[int]:
    """Resolve every open case whose included accounts owe nothing on ``as_of`` (paid in full).

    Set-based (:func:`arrears.cases.daily.detect_payoffs`); objects in ``session`` are reloaded after.
    """
    session.flush()
    paid = daily.detect_payoffs(session.connection(), as_of=as_of, actor=actor, at=at)
    session.expire_all()
    return paid


def complete_settlements(
    session: Session, *, as_of: dt.date, actor: str, at: dt.datetime, policy: CasePolicy | None = None
) -> dict[int, str]:
    """Complete approved settlements whose amount has been received, lapse those past their date.

    A completed settlement waives what remains on every included account (ledger kind ``waiver``)
    and resolves the case as settled. Returns {concession_id: new status}.
    """
    policy = policy or default_policy()
    offers = list(
        session.scalars(
            select(Concession)
            .where(
                Concession.kind == ConcessionKind.SETTLEMENT.value,
                Concession.status == ConcessionStatus.APPROVED.value,
            )
            .order_by(Concession.id)
        )
    )
    result: dict[int, str] = {}
    for offer in offers:
        payments = case_payments(session, [offer.case_id])
        paid = int(
            payments.filter((pl.col("paid_on") >= offer.requested_at.date()) & (pl.col("paid_on") <= as_of))[
                "amount_minor"
            ].sum()
        )
        case = get_case(session, offer.case_id)
        assert offer.settlement_minor is not None and offer.pay_by_on is not None
        if paid >= offer.settlement_minor:
            pos = case_positions(session, case, as_of=as_of)
            for row in pos.filter(pl.col("total_minor") > 0).iter_rows(named=True):
                session.add(
                    tables.LedgerEntry(
                        account_id=row["account_id"],
                        key=f"waiver:settlement-{offer.id}",
                        kind="waiver",
                        effective_on=as_of,
                        posted_at=at,
                        **{f"{c}_minor": -int(row[f"{c}_minor"]) for c in COMPONENTS},
                        memo=f"settlement {offer.id}: remainder waived",
                    )
                )
            offer.status = ConcessionStatus.APPLIED.value
            audit_case(
                session,
                case,
                actor=actor,
                action="case.settlement_completed",
                at=at,
                details={"concession_id": offer.id, "paid_minor": paid},
            )
            fire_event(
                session,
                case,
                Event.RESOLVE,
                actor=actor,
                at=at,
                reason=ResolutionReason.SETTLED,
                policy=policy,
            )
        elif as_of > offer.pay_by_on:
            offer.status = ConcessionStatus.LAPSED.value
            audit_case(
                session,
                case,
                actor=actor,
                action="case.settlement_lapsed",
                at=at,
                details={"concession_id": offer.id, "paid_minor": paid},
            )
        else:
            continue
        result[offer.id] = offer.status
    return result


def check_follow_ups(session: Session, *, as_of: dt.date, actor: str, at: dt.datetime) -> dict[int, str]:
    """Resolved cases: re-default within the follow-up period reopens the case; after it, the case closes.

    Returns {case_id: "redefault" | "end_follow_up"}. Set-based (:func:`arrears.cases.daily.check_follow_ups`).
    """
    session.flush()
    result = daily.check_follow_ups(session.connection(), as_of=as_of, actor=actor, at=at)
    session.expire_all()
    return result
