"""What every rule reads about one request, computed once per check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from arrears.domain.compliance.content import ContentReport, scan
from arrears.domain.compliance.enums import Actor, CallOutcome, Channel, ContactKind, Direction, Role
from arrears.domain.compliance.models import ContactPoint, Debt, Debtor, Flags, HistoryEvent, Person, Request
from arrears.domain.compliance.zones import local_date, zone, zones_for_address, zones_for_phone

__all__ = ["ALL_DEBTS", "Context", "build_context", "debtor_zones", "phone_region_of", "zones_from_parts"]

# Bucket used when a request names no debt at all: the contact is about the account as a whole.
ALL_DEBTS = "*"


@dataclass(slots=True)
class Context:
    """The facts of one request, resolved: who, which point, which debts, which zones."""

    request: Request
    now: dt.datetime
    actor: Actor
    channel: Channel
    person_id: str
    role: Role
    person: Person | None
    point: ContactPoint | None
    points: dict[str, ContactPoint]
    debt_ids: tuple[str, ...]
    debts: dict[str, Debt]
    flags: Flags
    primary: str
    zones: tuple[str, ...]
    today: dt.date
    history: tuple[HistoryEvent, ...]
    person_events: tuple[HistoryEvent, ...]
    tz: ZoneInfo
    consents: tuple[HistoryEvent, ...]
    _content: ContentReport | None = field(default=None)
    # Local dates of instants in the primary zone, and derived event lists, computed once per
    # request: the same events are read by several rules and by every step of the settling loop.
    _dates: dict[dt.datetime, dt.date] = field(default_factory=dict)
    memo: dict[object, object] = field(default_factory=dict)

    @property
    def is_debtor(self) -> bool:
        return self.role is Role.DEBTOR

    @property
    def content(self) -> ContentReport | None:
        """The content report of the proposed text, or None when no text was given."""
        text = self.request.proposed.content
        if text is None:
            return None
        if self._content is None:
            self._content = scan(text)
        return self._content

    def event_person(self, event: HistoryEvent) -> str:
        """The person an event concerned (the debtor when not said)."""
        return event.person or self.request.debtor.id

    def local(self, instant: dt.datetime) -> dt.date:
        """Calendar date of an instant in the primary zone."""
        day = self._dates.get(instant)
        if day is None:
            day = self._dates[instant] = instant.astimezone(self.tz).date()
        return day

    # -- consent (12 CFR 1006.14(b)(3)(i) and comment 14(b)(3)(i)-2) --------------------------

    def consent_events(self) -> tuple[HistoryEvent, ...]:
        """Events of this person that carry a request to be called."""
        return self.consents

    def consent_covering(
        self, instant: dt.datetime, *, tolerance: dt.timedelta | None = None
    ) -> HistoryEvent | None:
        """The consent under which a call at ``instant`` would be placed, if any.

        The consent date is day 1 of seven consecutive days; consent ends once the collector has
        a conversation with the person after it was given.
        """
        found: HistoryEvent | None = None
        if not self.consents:
            return None
        for event in self.consents:
            wanted = event.consent_given_for
            assert wanted is not None
            if instant < wanted or instant < event.at:
                continue
            if tolerance is not None and instant >= wanted + tolerance:
                continue
            if self.local(instant) > self.local(event.at) + dt.timedelta(days=6):
                continue
            if any(
                e.at > event.at and e.at <= instant and e.outcome is CallOutcome.CONVERSATION
                for e in self.person_events
            ):
                continue
            found = event
        return found

    def next_consent_instant(self, instant: dt.datetime) -> dt.datetime | None:
        """The earliest later instant a consent covers (the debtor asked to be called then)."""
        best: dt.datetime | None = None
        for event in self.consents:
            wanted = event.consent_given_for
            assert wanted is not None
            if wanted <= instant or self.local(wanted) > self.local(event.at) + dt.timedelta(days=6):
                continue
            if any(e.at > event.at and e.outcome is CallOutcome.CONVERSATION for e in self.person_events):
                continue
            if best is None or wanted < best:
                best = wanted
        return best

    def call_was_consented(self, call: HistoryEvent) -> bool:
        """Whether a past call was placed with the person's prior consent (excluded from counts)."""
        for event in self.consents:
            wanted = event.consent_given_for
            assert wanted is not None
            if event is call or call.at < wanted or call.at < event.at:
                continue
            if self.local(call.at) > self.local(event.at) + dt.timedelta(days=6):
                continue
            if any(
                e.at > event.at and e.at < call.at and e.outcome is CallOutcome.CONVERSATION
                for e in self.person_events
            ):
                continue
            return True
        return False


def _covers(event: HistoryEvent, debt: str) -> bool:
    # An event that names no debt is about the account as a whole: it counts for every debt.
    return not event.debts or debt in event.debts or debt == ALL_DEBTS


def covers(event: HistoryEvent, debt: str) -> bool:
    """Whether a history event concerns ``debt``."""
    return _covers(event, debt)


@lru_cache(maxsize=64)
def _region_of(jurisdiction: str) -> tuple[str, str | None]:
    parts = jurisdiction.split("-")
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _phone_zones(
    points: tuple[ContactPoint, ...], region: str | None, known: Mapping[str, tuple[str, ...]] | None = None
) -> list[str]:
    found: list[str] = []
    for point in points:
        if point.kind is ContactKind.PHONE:
            given = None if known is None else known.get(point.id)
            for name in zones_for_phone(point.value, region) if given is None else given:
                if name not in found:
                    found.append(name)
    return found


def debtor_zones(
    debtor: Debtor, phone_zones: Mapping[str, tuple[str, ...]] | None = None
) -> tuple[tuple[str, ...], str, str]:
    """The debtor's plausible zones, primary zone and phone region (shared by the batch form).

    ``phone_zones`` maps contact point ids to zones already resolved for their numbers (what
    ``zones_for_phone(value, region)`` answers); the others are resolved here.
    """
    address = debtor.address
    country = address.country if address is not None else None
    region = address.region if address is not None else None
    postal_code = address.postal_code if address is not None else None
    phone_region = phone_region_of(debtor.jurisdiction, country)
    found: list[tuple[str, ...]] = []
    for point in debtor.contact_points:
        if point.kind is ContactKind.PHONE:
            given = None if phone_zones is None else phone_zones.get(point.id)
            found.append(zones_for_phone(point.value, phone_region) if given is None else given)
    zones, primary = zones_from_parts(
        debtor.jurisdiction, debtor.timezone, country, region, postal_code, tuple(found)
    )
    return zones, primary, phone_region


@lru_cache(maxsize=1024)
def phone_region_of(jurisdiction: str, address_country: str | None) -> str:
    """The region phone numbers without a country code are read in: the address's, else the jurisdiction's."""
    region = address_country.upper() if address_country else _region_of(jurisdiction)[0]
    return "GB" if region == "UK" else region


@lru_cache(maxsize=1 << 14)
def zones_from_parts(
    jurisdiction: str,
    timezone: str | None,
    address_country: str | None,
    address_region: str | None,
    postal_code: str | None,
    phone_zones: tuple[tuple[str, ...], ...],
) -> tuple[tuple[str, ...], str]:
    """The plausible zones and the primary zone from the facts on file.

    ``phone_zones`` holds the zones of each phone number in contact-point order. The zone on
    file comes first, then the address's, then the numbers'; the primary zone is the one on
    file, else the address's first, else the first plausible one (``UTC`` when nothing is known).
    """
    country, region = _region_of(jurisdiction)
    if address_country:
        addr_zones = zones_for_address(address_country, address_region, postal_code)
    else:
        addr_zones = zones_for_address(country, region, None)
    found: list[str] = []
    if timezone:
        found.append(timezone)
    for name in (*addr_zones, *(z for given in phone_zones for z in given)):
        if name not in found:
            found.append(name)
    if not found:
        found.append("UTC")
    primary = timezone or (addr_zones[0] if addr_zones else found[0])
    return tuple(found), primary


def build_context(request: Request) -> Context:
    """Resolve the person, contact point, debts and plausible zones of a request."""
    debtor = request.debtor
    proposed = request.proposed
    zones_of_debtor, primary, phone_region = debtor_zones(debtor)
    debtor_zones_list = list(zones_of_debtor)

    person_id = proposed.person or debtor.id
    person: Person | None = None
    if person_id == debtor.id:
        role = Role.DEBTOR
        own_points = debtor.contact_points
        zones = zones_of_debtor
    else:
        person = next(p for p in request.persons if p.id == person_id)
        role = person.role
        own_points = person.contact_points
        person_zones = _phone_zones(own_points, phone_region)
        if role is Role.SPOUSE:
            person_zones = list(dict.fromkeys([*debtor_zones_list, *person_zones]))
        zones = tuple(person_zones) or (primary,)
    points = {cp.id: cp for cp in own_points}
    point = points.get(proposed.contact_point) if proposed.contact_point else None
    if point is not None and point.kind is ContactKind.PHONE and role is not Role.DEBTOR:
        zones = tuple(dict.fromkeys([*zones_for_phone(point.value, phone_region), *zones])) or zones

    debts = {d.id: d for d in request.debts}
    debt_ids = proposed.debts or tuple(debts) or (ALL_DEBTS,)
    history = tuple(sorted(request.history, key=lambda e: e.at))
    person_events = tuple(e for e in history if (e.person or debtor.id) == person_id)
    now = request.now
    tz = zone(primary)
    return Context(
        request=request,
        now=now,
        actor=request.actor,
        channel=proposed.channel,
        person_id=person_id,
        role=role,
        person=person,
        point=point,
        points=points,
        debt_ids=debt_ids,
        debts=debts,
        flags=debtor.flags,
        primary=primary,
        zones=zones,
        today=local_date(now, tz),
        history=history,
        person_events=person_events,
        tz=tz,
        consents=tuple(e for e in person_events if e.consent_given_for is not None),
    )


def is_outbound(event: HistoryEvent) -> bool:
    """Outbound events only."""
    return event.direction is Direction.OUTBOUND
