"""Statuses and outcomes of allocation records."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RecallReason", "WorkOutcome", "WorkStatus"]


class WorkStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    # A newer day's task for the same account replaced it: one live task per account and action.
    SUPERSEDED = "superseded"


class WorkOutcome(StrEnum):
    RIGHT_PARTY_CONTACT = "right_party_contact"
    PROMISE_TO_PAY = "promise_to_pay"
    THIRD_PARTY = "third_party"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    WRONG_NUMBER = "wrong_number"
    REFUSED = "refused"
    NOT_WORKED = "not_worked"


class RecallReason(StrEnum):
    TERM_EXPIRED = "term_expired"
    NO_PAYMENT = "no_payment"
    MANUAL = "manual"
