"""Enumerations of the collection case: stages, events, holds, contacts, concessions, legal steps."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Channel",
    "ConcessionKind",
    "ConcessionStatus",
    "ContactOutcome",
    "Direction",
    "DisputeForm",
    "Event",
    "HoldKind",
    "IdentityMethod",
    "LegalStep",
    "MadeBy",
    "PlanStatus",
    "PromiseStatus",
    "Recipient",
    "ResolutionReason",
    "Stage",
]


class Stage(StrEnum):
    """Where a case stands in the collection process."""

    NEW = "new"
    INITIAL_CONTACT = "initial_contact"  # 初步接触
    CONFIRMED = "confirmed"  # 债务确认
    NEGOTIATING = "negotiating"  # 还款协商
    ARRANGED = "arranged"  # a plan or a promise is active
    ESCALATED = "escalated"  # 催收升级
    LEGAL = "legal"  # 法律途径
    RESOLVED = "resolved"  # 债务结清; the follow-up period runs
    CLOSED = "closed"  # follow-up over without re-default

    @property
    def is_open(self) -> bool:
        """Collection is still going on (not resolved, not closed)."""
        return self not in (Stage.RESOLVED, Stage.CLOSED)


class Event(StrEnum):
    """What moves a case from one stage to another."""

    CONTACT = "contact"  # a right-party conversation
    CONFIRM = "confirm"  # identity verified and the debt acknowledged or validated
    NEGOTIATE = "negotiate"
    ARRANGE = "arrange"  # a promise made or a plan accepted
    BREAK = "break"  # a promise or a plan broken
    FULFIL = "fulfil"  # a promise kept without settling the whole debt
    ESCALATE = "escalate"
    DE_ESCALATE = "de_escalate"
    REFER_LEGAL = "refer_legal"
    WITHDRAW_LEGAL = "withdraw_legal"
    RESOLVE = "resolve"
    REDEFAULT = "redefault"
    END_FOLLOW_UP = "end_follow_up"


class ResolutionReason(StrEnum):
    PAID_IN_FULL = "paid_in_full"
    SETTLED = "settled"
    CURED = "cured"  # back to current
    WRITTEN_OFF = "written_off"
    RECALLED = "recalled"  # recalled by the creditor
    DECEASED = "deceased"
    BANKRUPTCY_DISCHARGE = "bankruptcy_discharge"


class HoldKind(StrEnum):
    """Holds stop or restrict collection without changing the stage."""

    DISPUTE = "dispute"
    CEASE_CONTACT = "cease_contact"
    ATTORNEY = "attorney"
    BANKRUPTCY = "bankruptcy"
    DECEASED = "deceased"
    HARDSHIP = "hardship"  # forbearance
    BREATHING_SPACE = "breathing_space"
    COMPLAINT = "complaint"  # complaint under investigation


class Channel(StrEnum):
    CALL = "call"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    VISIT = "visit"
    VOICEMAIL = "voicemail"
    CHAT = "chat"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Recipient(StrEnum):
    DEBTOR = "debtor"
    SPOUSE = "spouse"
    GUARANTOR = "guarantor"
    EMERGENCY_CONTACT = "emergency_contact"
    THIRD_PARTY = "third_party"
    ATTORNEY = "attorney"


class MadeBy(StrEnum):
    COLLECTOR = "collector"
    AGENCY = "agency"
    AI_VOICE = "ai_voice"


class ContactOutcome(StrEnum):
    BUSY = "busy"
    NOT_IN_SERVICE = "not_in_service"  # 空号
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    MESSAGE_LEFT = "message_left"
    THIRD_PARTY_ANSWERED = "third_party_answered"
    RIGHT_PARTY = "right_party_conversation"
    WRONG_NUMBER = "wrong_number"
    REFUSED_TO_PAY = "refused_to_pay"
    PROMISE_MADE = "promise_made"
    DISPUTE_RAISED = "dispute_raised"
    CEASE_REQUESTED = "cease_requested"
    HARDSHIP_CLAIMED = "hardship_claimed"
    CALLBACK_REQUESTED = "callback_requested"

    @property
    def is_right_party(self) -> bool:
        """A conversation with the debtor (every outcome a conversation can end in)."""
        return self in _RIGHT_PARTY


_RIGHT_PARTY = frozenset(
    {
        ContactOutcome.RIGHT_PARTY,
        ContactOutcome.REFUSED_TO_PAY,
        ContactOutcome.PROMISE_MADE,
        ContactOutcome.DISPUTE_RAISED,
        ContactOutcome.CEASE_REQUESTED,
        ContactOutcome.HARDSHIP_CLAIMED,
        ContactOutcome.CALLBACK_REQUESTED,
    }
)


class IdentityMethod(StrEnum):
    KNOWLEDGE_QUESTIONS = "knowledge_questions"
    ONE_TIME_CODE = "one_time_code"
    ID_DOCUMENT = "id_document"
    IN_PERSON = "in_person"
    VOICE_BIOMETRIC = "voice_biometric"


class DisputeForm(StrEnum):
    ORAL = "oral"
    WRITTEN = "written"


class PromiseStatus(StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    PARTIALLY_KEPT = "partially_kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class PlanStatus(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    SUSPENDED = "suspended"  # hardship forbearance
    COMPLETED = "completed"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class ConcessionKind(StrEnum):
    WAIVER = "waiver"  # 减免 of penalty interest, compound interest or fees
    SETTLEMENT = "settlement"  # pay X now, the rest waived


class ConcessionStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"  # a settlement waiting for its payment
    APPLIED = "applied"  # the waiver is on the ledger
    REJECTED = "rejected"
    LAPSED = "lapsed"  # a settlement whose payment did not come in time


class LegalStep(StrEnum):
    """The steps of a legal matter, in order."""

    REFERRED = "referred"
    DEMAND_LETTER = "demand_letter"
    FILING = "filing"
    HEARING = "hearing"
    JUDGMENT = "judgment"
    ENFORCEMENT = "enforcement"
    CLOSED = "closed"
