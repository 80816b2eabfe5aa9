"""Enumerations of the compliance engine: outcomes, actors, channels, call outcomes and roles."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CONNECTED_OUTCOMES",
    "PHONE_CHANNELS",
    "Actor",
    "CallOutcome",
    "Channel",
    "ContactKind",
    "Direction",
    "Outcome",
    "Place",
    "Role",
    "SourceTier",
]


class Outcome(StrEnum):
    """What the engine decides; ordered from least to most restrictive by :attr:`severity`."""

    ALLOW = "allow"
    DELAY = "delay"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        """0 for allow up to 3 for block: the most restrictive outcome of all layers wins."""
        return _SEVERITY[self]


_SEVERITY = {Outcome.ALLOW: 0, Outcome.DELAY: 1, Outcome.REVIEW: 2, Outcome.BLOCK: 3}


class Actor(StrEnum):
    """Who would make the contact; rules declare which actors they apply to."""

    FIRST_PARTY_CREDITOR = "first_party_creditor"
    THIRD_PARTY_COLLECTOR = "third_party_collector"
    DEBT_BUYER = "debt_buyer"
    COLLECTION_AGENCY = "collection_agency"


class Channel(StrEnum):
    CALL = "call"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    VISIT = "visit"
    VOICEMAIL_MESSAGE = "voicemail_message"
    SOCIAL_PRIVATE = "social_private"
    SOCIAL_PUBLIC = "social_public"


# Channels that place a telephone call: a voicemail drop is an attempt to communicate by
# telephone (12 CFR 1006.2(b), 1006.2(j)).
PHONE_CHANNELS = frozenset({Channel.CALL, Channel.VOICEMAIL_MESSAGE})


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class CallOutcome(StrEnum):
    BUSY = "busy"
    NOT_IN_SERVICE = "not_in_service"
    INVALID_NUMBER = "invalid_number"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    VOICEMAIL_MESSAGE = "voicemail_message"
    THIRD_PARTY_ANSWERED = "third_party_answered"
    CONVERSATION = "conversation"
    DELIVERED = "delivered"
    BOUNCED = "bounced"


# Comment 14(b)(3)(ii)-1: only calls that do not connect to the dialed number (busy signal,
# not-in-service indication) are excluded; unanswered rings and voicemail are connected.
CONNECTED_OUTCOMES = frozenset(
    {
        CallOutcome.NO_ANSWER,
        CallOutcome.VOICEMAIL,
        CallOutcome.VOICEMAIL_MESSAGE,
        CallOutcome.THIRD_PARTY_ANSWERED,
        CallOutcome.CONVERSATION,
    }
)


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    SOCIAL = "social"


class Place(StrEnum):
    MOBILE = "mobile"
    HOME = "home"
    WORK = "work"
    OTHER = "other"


class Role(StrEnum):
    """Role of a person on file; ``debtor`` is the debtor themself."""

    DEBTOR = "debtor"
    SPOUSE = "spouse"
    GUARANTOR = "guarantor"
    EMERGENCY_CONTACT = "emergency_contact"
    THIRD_PARTY = "third_party"
    ATTORNEY = "attorney"


class SourceTier(StrEnum):
    """A: primary text read; B: republisher or two secondary sources; C: general knowledge."""

    A = "A"
    B = "B"
    C = "C"
