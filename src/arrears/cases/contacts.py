"""The contact log and identity verification.

Every attempt and conversation is one :class:`ContactRecord`; the endpoint (a phone number, an email
address) is personal data and is sealed through :mod:`arrears.store.personal`. The compliance engine
reads the log through :func:`history_for_compliance`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.cases.service import audit_case, case_accounts, fire_event, get_case, parse_choice, place_hold
from arrears.cases.tables import Case, ContactRecord, IdentityCheck
from arrears.domain.cases.enums import (
    Channel,
    ContactOutcome,
    Direction,
    Event,
    HoldKind,
    IdentityMethod,
    MadeBy,
    Recipient,
    Stage,
)
from arrears.errors import NotFoundError, ValidationError
from arrears.store import personal, tables
from arrears.store.personal import PersonalKind

__all__ = ["endpoint_kind", "history_for_compliance", "history_outcome", "log_contact", "verify_identity"]

_ENDPOINT_KIND: Final = {
    Channel.CALL: PersonalKind.PHONE,
    Channel.SMS: PersonalKind.PHONE,
    Channel.VOICEMAIL: PersonalKind.PHONE,
    Channel.CHAT: PersonalKind.PHONE,
    Channel.EMAIL: PersonalKind.EMAIL,
    Channel.LETTER: PersonalKind.ADDRESS,
    Channel.VISIT: PersonalKind.ADDRESS,
}


def endpoint_kind(channel: Channel | str) -> PersonalKind:
    """The kind of personal data a contact's endpoint holds on ``channel`` (a phone, an email, an address)."""
    return _ENDPOINT_KIND[Channel(channel)]


def log_contact(
    session: Session,
    *,
    case_id: int,
    channel: Channel | str,
    outcome: ContactOutcome | str,
    direction: Direction | str = Direction.OUTBOUND,
    recipient: Recipient | str = Recipient.DEBTOR,
    made_by: MadeBy | str = MadeBy.COLLECTOR,
    endpoint: str | None = None,
    contact_point_id: int | None = None,
    person_id: int | None = None,
    duration_seconds: int | None = None,
    recording_ref: str | None = None,
    notes: str | None = None,
    actor: str,
    at: dt.datetime,
) -> ContactRecord:
    """Record one attempt or conversation and what it changes on the case.

    A right-party conversation with the debtor moves a new case to initial contact and resets the
    days-without-contact count; a refusal counts towards escalation; a cease request places a
    cease-contact hold (15 U.S.C. 1692c(c); 民法典 第1033条).
    """
    channel_v: Channel = parse_choice(Channel, channel, "channel")
    outcome_v: ContactOutcome = parse_choice(ContactOutcome, outcome, "outcome")
    direction_v: Direction = parse_choice(Direction, direction, "direction")
    recipient_v: Recipient = parse_choice(Recipient, recipient, "recipient")
    made_by_v: MadeBy = parse_choice(MadeBy, made_by, "made_by")
    if duration_seconds is not None and duration_seconds < 0:
        raise ValidationError(
            "duration must not be negative", field="duration_seconds", value=duration_seconds
        )
    case = get_case(session, case_id)
    if recipient_v is not Recipient.DEBTOR and person_id is None and outcome_v.is_right_party:
        raise ValidationError(
            "a conversation with someone other than the debtor names the person", field="person_id"
        )
    if person_id is not None:
        person = session.get(tables.Person, person_id)
        if person is None or person.debtor_id != case.debtor_id:
            raise NotFoundError(f"no person {person_id} on file for this debtor", person=person_id)
    if contact_point_id is not None:
        point = session.get(tables.ContactPoint, contact_point_id)
        if point is None or point.debtor_id != case.debtor_id:
            raise NotFoundError(
                f"no contact point {contact_point_id} on file for this debtor", contact_point=contact_point_id
            )
    record = ContactRecord(
        case_id=case.id,
        debtor_id=case.debtor_id,
        at=at,
        channel=channel_v.value,
        direction=direction_v.value,
        contact_point_id=contact_point_id,
        endpoint=None if endpoint is None else personal.seal(_ENDPOINT_KIND[channel_v], endpoint),
        recipient=recipient_v.value,
        person_id=person_id,
        made_by=made_by_v.value,
        agent=actor,
        outcome=outcome_v.value,
        duration_seconds=duration_seconds,
        recording_ref=recording_ref,
        notes=notes,
    )
    session.add(record)
    is_rpc = outcome_v.is_right_party and recipient_v is Recipient.DEBTOR
    if is_rpc:
        case.last_right_party_at = at
    if outcome_v is ContactOutcome.REFUSED_TO_PAY:
        case.refusals += 1
    audit_case(
        session,
        case,
        actor=actor,
        action="case.log_contact",
        at=at,
        details={
            "channel": channel_v.value,
            "outcome": outcome_v.value,
            "recipient": recipient_v.value,
            "direction": direction_v.value,
            "made_by": made_by_v.value,
        },
    )
    if is_rpc and case.stage == Stage.NEW.value:
        fire_event(session, case, Event.CONTACT, actor=actor, at=at, details={"contact_id": record.id})
    if outcome_v is ContactOutcome.CEASE_REQUESTED:
        place_hold(
            session,
            case_id=case.id,
            kind=HoldKind.CEASE_CONTACT,
            reason=f"requested by {channel_v.value}",
            actor=actor,
            at=at,
        )
    return record


def verify_identity(
    session: Session,
    *,
    case_id: int,
    method: IdentityMethod | str,
    is_passed: bool = True,
    actor: str,
    at: dt.datetime,
) -> IdentityCheck:
    """Record how, by whom and when the debtor's identity was checked, before debt details are disclosed.

    CONC 7.9.10R; CBA 2026 指引 (核实身份): a passed check is what the ``identity_verified`` guard reads.
    """
    method_v: IdentityMethod = parse_choice(IdentityMethod, method, "method")
    case = get_case(session, case_id)
    check = IdentityCheck(
        case_id=case.id, method=method_v.value, verified_by=actor, verified_at=at, is_passed=is_passed
    )
    session.add(check)
    if is_passed:
        case.identity_verified_at = at
    audit_case(
        session,
        case,
        actor=actor,
        action="case.verify_identity",
        at=at,
        details={"method": method_v.value, "passed": is_passed},
    )
    return check


# The contact log's terms in the compliance request's terms (docs/compliance.md, ``history``).
_CHANNEL: Final = {
    Channel.CALL: "call",
    Channel.SMS: "sms",
    Channel.EMAIL: "email",
    Channel.LETTER: "letter",
    Channel.VISIT: "visit",
    Channel.VOICEMAIL: "voicemail_message",
    Channel.CHAT: "social_private",
}
_CALL_OUTCOME: Final = {
    ContactOutcome.BUSY: "busy",
    ContactOutcome.NOT_IN_SERVICE: "not_in_service",
    ContactOutcome.NO_ANSWER: "no_answer",
    ContactOutcome.VOICEMAIL: "voicemail",
    ContactOutcome.MESSAGE_LEFT: "voicemail_message",
    ContactOutcome.THIRD_PARTY_ANSWERED: "third_party_answered",
    # A wrong number connected to someone who is not the debtor.
    ContactOutcome.WRONG_NUMBER: "third_party_answered",
}
_WRITTEN: Final = frozenset({Channel.SMS, Channel.EMAIL, Channel.LETTER, Channel.CHAT})


def history_outcome(channel: Channel, outcome: ContactOutcome) -> str:
    """The compliance engine's ``history.outcome`` for a logged contact (written messages: delivered or
    bounced; calls: the connection outcome)."""
    if channel in _WRITTEN and outcome in (ContactOutcome.NOT_IN_SERVICE, ContactOutcome.WRONG_NUMBER):
        return "bounced"
    if channel in _WRITTEN and not outcome.is_right_party:
        return "delivered"
    return _CALL_OUTCOME.get(outcome, "conversation")


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def history_for_compliance(session: Session, debtor_id: int) -> list[dict[str, Any]]:
    """The debtor's contact history as compliance ``history`` items (oldest first).

    ``debtor_id`` is the internal id. ``person`` is the person's id as text (absent for the debtor
    themself), ``contact_point`` the contact point's id as text, ``debts`` the external ids of the
    case's accounts.
    """
    records = list(
        session.scalars(
            select(ContactRecord)
            .where(ContactRecord.debtor_id == debtor_id)
            .order_by(ContactRecord.at, ContactRecord.id)
        )
    )
    debts: dict[int, list[str]] = {}
    for case_id in {r.case_id for r in records if r.case_id is not None}:
        case = session.get_one(Case, case_id)
        debts[case_id] = [a.external_id for a in case_accounts(session, case)]
    history = []
    for r in records:
        channel = Channel(r.channel)
        item: dict[str, Any] = {
            "at": _iso(r.at),
            "channel": _CHANNEL[channel],
            "direction": r.direction,
            "outcome": history_outcome(channel, ContactOutcome(r.outcome)),
            "debts": debts.get(r.case_id, []) if r.case_id is not None else [],
            "ai_voice": r.made_by == MadeBy.AI_VOICE.value,
        }
        if r.person_id is not None:
            item["person"] = str(r.person_id)
        if r.contact_point_id is not None:
            item["contact_point"] = str(r.contact_point_id)
        history.append(item)
    return history
