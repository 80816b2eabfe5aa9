"""The request a compliance check reads and the decision it returns.

The request is a pydantic model (validated once, strictly: unknown fields are refused); the
decision and its fired rules are plain frozen dataclasses so that building them costs little.
Every instant is timezone-aware and normalised to UTC on the way in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from arrears.domain.compliance.enums import (
    Actor,
    CallOutcome,
    Channel,
    ContactKind,
    Direction,
    Outcome,
    Place,
    Role,
)

__all__ = [
    "Address",
    "Attorney",
    "Bankruptcy",
    "BreathingSpace",
    "ContactPoint",
    "Debt",
    "Debtor",
    "Decision",
    "Dispute",
    "FiredRule",
    "Flags",
    "HistoryEvent",
    "Obligation",
    "OptOut",
    "Person",
    "Proposed",
    "Request",
    "TimeRange",
]

UTC = dt.UTC


def _to_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_to_utc)]

_CONFIG = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _Model(BaseModel):
    model_config = _CONFIG


class TimeRange(_Model):
    """A daily range of local wall-clock time, ``start`` inclusive, ``end`` exclusive.

    An ``end`` earlier than ``start`` wraps past midnight (``22:00``–``07:00``).
    """

    start: dt.time
    end: dt.time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                hours, minutes = value.split(":")
                return dt.time(int(hours), int(minutes))
            except ValueError:
                raise ValueError("must be a time of day as HH:MM") from None
        return value


class Address(_Model):
    country: str | None = None
    region: str | None = None
    city: str | None = None
    postal_code: str | None = None


class ContactPoint(_Model):
    id: str
    kind: ContactKind
    value: str
    place: Place = Place.OTHER


class Attorney(_Model):
    name: str | None = None
    known_at: Instant | None = None
    # 12 CFR 1006.6(b)(2): the bar lifts when the attorney consents to direct communication.
    consented_to_direct_contact: bool = False


class Bankruptcy(_Model):
    filed_on: dt.date
    known_at: Instant | None = None
    discharged_on: dt.date | None = None


class OptOut(_Model):
    channel: Channel | None = None
    contact_point: str | None = None
    at: Instant


class BreathingSpace(_Model):
    start_on: dt.date
    end_on: dt.date | None = None


class Flags(_Model):
    cease_requested_at: Instant | None = None
    cease_in_writing: bool = False
    attorney: Attorney | None = None
    bankruptcy: Bankruptcy | None = None
    deceased: bool = False
    employer_prohibits_contact: bool = False
    inconvenient_times: tuple[TimeRange, ...] = ()
    consented_hours: tuple[TimeRange, ...] = ()
    opt_outs: tuple[OptOut, ...] = ()
    breathing_space: BreathingSpace | None = None
    statute_barred_asserted_at: Instant | None = None
    identity_verified: bool | None = None
    lost_contact: bool = False
    # Extensions: written consent to electronic communications (DC, NYC) and prior express
    # consent to artificial-voice calls (TCPA).
    electronic_consent_at: Instant | None = None
    artificial_voice_consent_at: Instant | None = None

    def is_default(self) -> bool:
        """True when no flag is set (the batch form's fast path needs nothing else)."""
        return self == Flags()


class Debtor(_Model):
    id: str
    jurisdiction: str = Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3}){0,2}$")
    timezone: str | None = None
    address: Address | None = None
    contact_points: tuple[ContactPoint, ...] = ()
    flags: Flags = Field(default_factory=Flags)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class Person(_Model):
    id: str
    role: Role
    relation: str | None = None
    contact_points: tuple[ContactPoint, ...] = ()
    refused_contact_at: Instant | None = None
    volunteered_to_pay: bool = False
    # CBA 2026 guideline: a debt-related third party (e.g. a spouse whose household the debt
    # funded) is not an "unrelated" third party.
    debt_related: bool = False


class Dispute(_Model):
    received_at: Instant
    in_writing: bool = False


class Debt(_Model):
    id: str
    validation_notice_sent_on: dt.date | None = None
    dispute: Dispute | None = None
    verification_sent_at: Instant | None = None
    limitation_expires_on: dt.date | None = None


class HistoryEvent(_Model):
    at: Instant
    channel: Channel
    direction: Direction = Direction.OUTBOUND
    person: str | None = None
    contact_point: str | None = None
    debts: tuple[str, ...] = ()
    outcome: CallOutcome
    ai_voice: bool = False
    consent_given_for: Instant | None = None


class Proposed(_Model):
    channel: Channel
    person: str | None = None
    contact_point: str | None = None
    debts: tuple[str, ...] = ()
    content: str | None = None
    ai_voice: bool = False
    recording: bool | None = None
    collector_name: str | None = None


_KIND_FOR_CHANNEL = {
    Channel.CALL: ContactKind.PHONE,
    Channel.SMS: ContactKind.PHONE,
    Channel.VOICEMAIL_MESSAGE: ContactKind.PHONE,
    Channel.EMAIL: ContactKind.EMAIL,
    Channel.LETTER: ContactKind.ADDRESS,
    Channel.VISIT: ContactKind.ADDRESS,
    Channel.SOCIAL_PRIVATE: ContactKind.SOCIAL,
    Channel.SOCIAL_PUBLIC: ContactKind.SOCIAL,
}


class Request(_Model):
    """One proposed contact with everything the rules need to judge it."""

    now: Instant
    actor: Actor
    packs: tuple[str, ...] | None = None
    debtor: Debtor
    persons: tuple[Person, ...] = ()
    debts: tuple[Debt, ...] = ()
    history: tuple[HistoryEvent, ...] = ()
    proposed: Proposed

    @model_validator(mode="after")
    def _references(self) -> Request:
        people = {self.debtor.id: self.debtor.contact_points}
        for index, person in enumerate(self.persons):
            if person.id in people:
                raise ValueError(f"persons[{index}].id: duplicate person id {person.id!r}")
            people[person.id] = person.contact_points
        debt_ids = {debt.id for debt in self.debts}
        if len(debt_ids) != len(self.debts):
            raise ValueError("debts: duplicate debt id")
        proposed = self.proposed
        person_id = proposed.person or self.debtor.id
        if person_id not in people:
            raise ValueError(f"proposed.person: no person with id {person_id!r} on file")
        for debt in proposed.debts:
            if debt not in debt_ids:
                raise ValueError(f"proposed.debts: no debt with id {debt!r}")
        if proposed.contact_point is not None:
            points = {cp.id: cp for cp in people[person_id]}
            point = points.get(proposed.contact_point)
            if point is None:
                raise ValueError(
                    f"proposed.contact_point: {person_id!r} has no contact point {proposed.contact_point!r}"
                )
            expected = _KIND_FOR_CHANNEL[proposed.channel]
            if point.kind is not expected:
                raise ValueError(
                    f"proposed.contact_point: a {proposed.channel.value} needs a {expected.value} "
                    f"contact point, {point.id!r} is {point.kind.value}"
                )
        for index, event in enumerate(self.history):
            if event.at > self.now:
                raise ValueError(f"history[{index}].at: event is later than now")
        return self


_DEFAULT_FLAGS = Flags()


@dataclass(frozen=True, slots=True)
class FiredRule:
    """One rule that fired, with its citation, provenance and reasons in English and Chinese."""

    id: str
    outcome: Outcome
    citation: str
    reason: str
    reason_zh: str
    pack: str
    source_tier: str
    verified: bool
    until: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``until`` only for delays."""
        data: dict[str, Any] = {
            "id": self.id,
            "outcome": self.outcome.value,
            "citation": self.citation,
            "reason": self.reason,
            "reason_zh": self.reason_zh,
            "pack": self.pack,
            "source_tier": self.source_tier,
            "verified": self.verified,
        }
        if self.until is not None:
            data["until"] = _iso(self.until)
        return data


@dataclass(frozen=True, slots=True)
class Obligation:
    """Something the contact must do to stay compliant that the request cannot show (e.g. record)."""

    id: str
    citation: str
    requirement: str
    requirement_zh: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "citation": self.citation,
            "requirement": self.requirement,
            "requirement_zh": self.requirement_zh,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer: outcome, when a delay ends, and every rule that fired."""

    outcome: Outcome
    next_allowed_at: dt.datetime | None
    rules: tuple[FiredRule, ...]
    obligations: tuple[Obligation, ...] = ()
    packs: tuple[str, ...] = ()
    zones: tuple[str, ...] = field(default=())

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Ids of the fired rules, in evaluation order."""
        return tuple(rule.id for rule in self.rules)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (instants as ISO-8601 UTC with a ``Z``)."""
        return {
            "outcome": self.outcome.value,
            "next_allowed_at": None if self.next_allowed_at is None else _iso(self.next_allowed_at),
            "rules": [rule.to_dict() for rule in self.rules],
            "obligations": [item.to_dict() for item in self.obligations],
            "packs": list(self.packs),
            "zones": list(self.zones),
        }


def _iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
