"""Reading the batch form's cases into flat columns, strictly and cheaply.

The batch form receives one mapping per debtor (``{"debtor": ..., "persons": [...], "debts":
[...]}``). Validating each with pydantic costs tens of microseconds; a daily cycle sends tens of
thousands of them, nearly all of one shape: a debtor with a jurisdiction, maybe a zone and an
address, a few contact points (phones carrying the zones resolved when they were stored), at most
the ``deceased`` flag or stated inconvenient times, debts named by id and simple related persons.

:func:`read_cases` reads exactly that shape with plain type and membership tests and returns the
columns the batch needs. Every value it accepts is one pydantic accepts unchanged (exact ``str``
and ``bool`` types, no surrounding whitespace, enum values spelled as such, jurisdictions matching
the model's pattern, zones ``zoneinfo`` knows, times as ``HH:MM``); anything else, however
harmless, is left to the full validation (:attr:`CaseColumns.fallback`), so errors keep the
model's field paths and messages and edge cases keep its meaning. That the two readings agree is
a tested property (tests/unit/compliance/test_case_reader.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from arrears.domain.compliance.context import phone_region_of, zones_from_parts
from arrears.domain.compliance.enums import ContactKind, Place, Role
from arrears.domain.compliance.models import Debt, Debtor, Person
from arrears.domain.compliance.zones import DayWindow, day_window, zones_for_phone, zones_for_phone_column

__all__ = ["CaseColumns", "CaseTable", "quiet_key", "read_case_table", "read_cases"]

_DEBTOR_KEYS = frozenset({"id", "jurisdiction", "timezone", "address", "contact_points", "flags"})
_ADDRESS_KEYS = frozenset({"country", "region", "city", "postal_code"})
_POINT_KEYS = frozenset({"id", "kind", "value", "place"})
_DEBTOR_POINT_KEYS = _POINT_KEYS | {"zones"}
_PERSON_KEYS = frozenset({"id", "role", "relation", "contact_points", "volunteered_to_pay", "debt_related"})
_FLAG_KEYS = frozenset({"deceased", "inconvenient_times"})
_RANGE_KEYS = frozenset({"start", "end"})
_KINDS = frozenset(k.value for k in ContactKind)
_PLACES = frozenset(p.value for p in Place)
# The debtor is never a related person: a person with that role is the model's business.
_ROLES = frozenset(r.value for r in Role) - {Role.DEBTOR.value}
_PHONE = ContactKind.PHONE.value
# The Debtor model's pattern; ``fullmatch`` so that a trailing newline is not accepted either.
_JURISDICTION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3}){0,2}")
_HHMM = re.compile(r"[0-9]{2}:[0-9]{2}")
_DEBT_KEYS = frozenset({"id"})
_DEBTOR = Role.DEBTOR.value
# Marks a contact point without ``zones`` (an explicit ``None`` is the full validation's to refuse).
_ABSENT = object()


class _NotPlain(Exception):
    """Raised inside the reader when a case leaves the common shape (never escapes it)."""


def _text(value: object) -> str:
    # Exact ``str`` with nothing the model's ``str_strip_whitespace`` would remove.
    if type(value) is not str or (value and (value[0].isspace() or value[-1].isspace())):
        raise _NotPlain
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _flag(value: object) -> bool:
    if value is True or value is False:
        return value
    raise _NotPlain


@lru_cache(maxsize=4096)
def _jurisdiction_ok(value: str) -> bool:
    return _JURISDICTION.fullmatch(value) is not None


@lru_cache(maxsize=4096)
def _zone_ok(name: str) -> bool:
    # The same test as the Debtor model's and the batch's: zoneinfo can load it.
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, KeyError, OSError):
        return False
    return True


@lru_cache(maxsize=4096)
def _time_of_day(text: str) -> dt.time | None:
    if _HHMM.fullmatch(text) is None:
        return None
    hours, minutes = int(text[:2]), int(text[3:])
    if hours > 23 or minutes > 59:
        return None
    return dt.time(hours, minutes)


def quiet_key(ranges: Sequence[tuple[dt.time, dt.time]]) -> str:
    """The key under which a debtor's stated inconvenient times are shared across debtors."""
    return ";".join(f"{start}-{end}" for start, end in ranges)


@dataclass(slots=True)
class CaseColumns:
    """Flat per-debtor, per-person, per-point and per-debt columns of the cases read.

    ``debtor_*`` columns have one entry per case read, ``person_*`` one per person including the
    debtor (role ``debtor``), ``point_*`` one per contact point, ``debt_*`` one per debt.
    ``zkey`` and ``quiet`` are keys into ``zone_sets`` and ``quiet_sets``; ``plain`` is false when
    the debtor has a flag other than ``deceased`` and stated inconvenient times, or a disputed
    debt. ``fallback`` lists the positions of the cases left to the full validation.
    """

    case_index: list[int] = field(default_factory=list)
    debtor_id: list[str] = field(default_factory=list)
    jurisdiction: list[str] = field(default_factory=list)
    primary: list[str] = field(default_factory=list)
    zkey: list[str] = field(default_factory=list)
    plain: list[bool] = field(default_factory=list)
    deceased: list[bool] = field(default_factory=list)
    quiet: list[str | None] = field(default_factory=list)
    person_debtor: list[str] = field(default_factory=list)
    person_id: list[str] = field(default_factory=list)
    person_role: list[str] = field(default_factory=list)
    point_debtor: list[str] = field(default_factory=list)
    point_person: list[str] = field(default_factory=list)
    point_id: list[str] = field(default_factory=list)
    point_kind: list[str] = field(default_factory=list)
    point_place: list[str] = field(default_factory=list)
    debt_debtor: list[str] = field(default_factory=list)
    debt_id: list[str] = field(default_factory=list)
    zone_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    quiet_sets: dict[str, DayWindow] = field(default_factory=dict)
    fallback: list[int] = field(default_factory=list)

    def _add_zones(
        self,
        jurisdiction: str,
        timezone: str | None,
        country: str | None,
        region: str | None,
        postal_code: str | None,
        phone_zones: tuple[tuple[str, ...], ...],
    ) -> None:
        zones, primary = zones_from_parts(jurisdiction, timezone, country, region, postal_code, phone_zones)
        key = "\x1f".join(zones)
        self.zone_sets[key] = zones
        self.zkey.append(key)
        self.primary.append(primary)

    def _add_quiet(self, ranges: Sequence[tuple[dt.time, dt.time]]) -> None:
        if not ranges:
            self.quiet.append(None)
            return
        key = quiet_key(ranges)
        if key not in self.quiet_sets:
            self.quiet_sets[key] = day_window(((dt.time(0), dt.time(0)),), tuple(ranges))
        self.quiet.append(key)

    def add_validated(
        self,
        index: int,
        debtor: Debtor,
        persons: Sequence[Person],
        debts: Sequence[Debt],
        phone_zones: Mapping[str, tuple[str, ...]] | None,
    ) -> None:
        """Add a case already validated by the models (the full validation's path)."""
        address = debtor.address
        country = address.country if address is not None else None
        region_code = phone_region_of(debtor.jurisdiction, country)
        found = []
        for point in debtor.contact_points:
            if point.kind is ContactKind.PHONE:
                given = None if phone_zones is None else phone_zones.get(point.id)
                found.append(zones_for_phone(point.value, region_code) if given is None else given)
        self.case_index.append(index)
        self.debtor_id.append(debtor.id)
        self.jurisdiction.append(debtor.jurisdiction)
        self._add_zones(
            debtor.jurisdiction,
            debtor.timezone,
            country,
            address.region if address is not None else None,
            address.postal_code if address is not None else None,
            tuple(found),
        )
        flags = debtor.flags
        # A deceased debtor stays plain: the ``deceased`` bar is computed over columns and no
        # other rule reads that flag for the debtor as recipient. So does one whose only other
        # flag is a list of inconvenient times (a local window).
        simple = flags.model_copy(update={"deceased": False, "inconvenient_times": ()}).is_default()
        self.plain.append(simple and all(d.dispute is None for d in debts))
        self.deceased.append(flags.deceased)
        self._add_quiet([(r.start, r.end) for r in flags.inconvenient_times])
        for owner, role, points in (
            (debtor.id, Role.DEBTOR.value, debtor.contact_points),
            *((p.id, p.role.value, p.contact_points) for p in persons),
        ):
            self.person_debtor.append(debtor.id)
            self.person_id.append(owner)
            self.person_role.append(role)
            for cp in points:
                self.point_debtor.append(debtor.id)
                self.point_person.append(owner)
                self.point_id.append(cp.id)
                self.point_kind.append(cp.kind.value)
                self.point_place.append(cp.place.value)
        for debt in debts:
            self.debt_debtor.append(debtor.id)
            self.debt_id.append(debt.id)


def _sequence(value: object) -> Sequence[Any]:
    if type(value) is not list and type(value) is not tuple:
        raise _NotPlain
    return cast("Sequence[Any]", value)


def _string(value: object) -> str:
    if type(value) is not str:
        raise _NotPlain
    return value


def _optional_string(value: object) -> str | None:
    if value is not None and type(value) is not str:
        raise _NotPlain
    return value


def _has_edge_space(strings: list[str]) -> bool:
    """Whether a string starts or ends with whitespace the model would strip."""
    # One split of the concatenation finds the usual batch, with no whitespace at all, in a
    # millisecond; a batch with inner whitespace (formatted numbers, city names) is checked
    # string by string.
    blob = "\x00".join(strings)
    pieces = blob.split()
    if not blob or (len(pieces) == 1 and len(pieces[0]) == len(blob)):
        return False
    return any(text != text.strip() for text in strings)


class _Reader:
    """One pass over the cases, appending to the columns as it reads.

    A case that leaves the common shape halfway has its rows taken off again. In ``careful``
    mode every string is checked for surrounding whitespace as it is read; otherwise the strings
    are checked at the end, all at once (a hit sends the batch through careful mode).
    """

    def __init__(self, out: CaseColumns, careful: bool) -> None:
        self.out = out
        self.careful = careful
        self.text = _text if careful else _string
        self.optional_text = _optional_text if careful else _optional_string
        self.extra: list[str] = []  # strings checked but kept in no column (values, address parts)
        self.good_zones: set[tuple[str, ...]] = set()
        self.zone_keys: dict[tuple[Any, ...], tuple[str, str]] = {}

    def points(
        self, debtor_id: str, owner: str, raw: object, keys: frozenset[str]
    ) -> list[tuple[str, str | None, object]]:
        """Appends the contact points; returns (id, value, zones or ``_ABSENT``) of each phone
        point, in order, and of every point carrying ``zones``."""
        if type(raw) is not list and type(raw) is not tuple:
            raise _NotPlain
        out, careful, extra = self.out, self.careful, self.extra
        found = []
        for point in raw:
            if type(point) is not dict or not point.keys() <= keys:
                raise _NotPlain
            kind = point.get("kind")
            place = point.get("place", "other")
            point_id = point.get("id")
            value = point.get("value")
            # Types first: an unhashable value must not reach the set lookups.
            if (
                type(kind) is not str
                or type(place) is not str
                or type(point_id) is not str
                or type(value) is not str
                or kind not in _KINDS
                or place not in _PLACES
                or (careful and (point_id != point_id.strip() or value != value.strip()))
            ):
                raise _NotPlain
            out.point_debtor.append(debtor_id)
            out.point_person.append(owner)
            out.point_id.append(point_id)
            out.point_kind.append(kind)
            out.point_place.append(place)
            extra.append(value)
            zones = point.get("zones", _ABSENT)
            if kind == _PHONE or zones is not _ABSENT:
                found.append((point_id, value if kind == _PHONE else None, zones))
        return found

    def given_zones(self, value: object) -> tuple[str, ...]:
        """Zones given on a point: a list of names ``zoneinfo`` knows (each distinct list checked once)."""
        names = tuple(_sequence(value))
        try:
            if names in self.good_zones:
                return names
        except TypeError:  # an unhashable item: not a list of names
            raise _NotPlain from None
        for name in names:
            if type(name) is not str or not _zone_ok(name):
                raise _NotPlain
        self.good_zones.add(names)
        return names

    def read(self, index: int, case: object) -> None:
        """Append one case in the common shape; raises :class:`_NotPlain` if it is not one."""
        out = self.out
        marks = (len(out.point_id), len(out.person_id), len(self.extra))
        try:
            self._read(index, case)
        except _NotPlain:
            points, people, extra = marks
            for column in (out.point_debtor, out.point_person, out.point_id, out.point_kind, out.point_place):
                del column[points:]
            for column in (out.person_debtor, out.person_id, out.person_role):
                del column[people:]
            del self.extra[extra:]
            raise

    def _read(self, index: int, case: object) -> None:
        text, optional_text, out = self.text, self.optional_text, self.out
        if type(case) is not dict:
            raise _NotPlain
        debtor = case.get("debtor")
        if type(debtor) is not dict or not debtor.keys() <= _DEBTOR_KEYS:
            raise _NotPlain
        debtor_id = text(debtor.get("id"))
        jurisdiction = debtor.get("jurisdiction")
        if type(jurisdiction) is not str or not _jurisdiction_ok(jurisdiction):
            raise _NotPlain
        timezone = debtor.get("timezone")
        if timezone is not None and (type(timezone) is not str or not _zone_ok(timezone)):
            raise _NotPlain
        country = region = postal_code = None
        if "address" in debtor and (address := debtor["address"]) is not None:
            if type(address) is not dict or not address.keys() <= _ADDRESS_KEYS:
                raise _NotPlain
            country = optional_text(address.get("country"))
            region = optional_text(address.get("region"))
            postal_code = optional_text(address.get("postal_code"))
            city = optional_text(address.get("city"))
            self.extra.extend(part for part in (country, region, postal_code, city) if part is not None)
        out.person_debtor.append(debtor_id)
        out.person_id.append(debtor_id)
        out.person_role.append(_DEBTOR)
        phones = self.points(debtor_id, debtor_id, debtor.get("contact_points", ()), _DEBTOR_POINT_KEYS)
        deceased = False
        ranges: list[tuple[dt.time, dt.time]] = []
        if "flags" in debtor:
            flags = debtor["flags"]
            if type(flags) is not dict or not flags.keys() <= _FLAG_KEYS:
                raise _NotPlain
            deceased = _flag(flags.get("deceased", False))
            for item in _sequence(flags.get("inconvenient_times", ())):
                if type(item) is not dict or item.keys() != _RANGE_KEYS:
                    raise _NotPlain
                start_at, end_at = _time_of_day(_string(item["start"])), _time_of_day(_string(item["end"]))
                if start_at is None or end_at is None:
                    raise _NotPlain
                ranges.append((start_at, end_at))
        if "persons" in case:
            for person in _sequence(case["persons"]):
                if type(person) is not dict or not person.keys() <= _PERSON_KEYS:
                    raise _NotPlain
                role = person.get("role")
                if type(role) is not str or role not in _ROLES:
                    raise _NotPlain
                relation = optional_text(person.get("relation"))
                if relation is not None:
                    self.extra.append(relation)
                _flag(person.get("volunteered_to_pay", False))
                _flag(person.get("debt_related", False))
                person_id = text(person.get("id"))
                out.person_debtor.append(debtor_id)
                out.person_id.append(person_id)
                out.person_role.append(role)
                self.points(debtor_id, person_id, person.get("contact_points", ()), _POINT_KEYS)
        debt_ids = []
        for debt in _sequence(case.get("debts", ())):
            # Only debts named by id: a dispute or a date makes the case the model's business.
            if type(debt) is not dict or debt.keys() != _DEBT_KEYS:
                raise _NotPlain
            debt_ids.append(text(debt["id"]))

        # Zones given on points (resolved when the number was stored), by id as the model path
        # keys them (any kind of point may carry them); the other phone numbers are resolved
        # here (cached per number and region).
        known: dict[str, tuple[str, ...]] | None = None
        for point_id, _value, given in phones:
            if given is not _ABSENT:
                if known is None:
                    known = {}
                known[point_id] = self.given_zones(given)
        if known is None:
            region_code = phone_region_of(jurisdiction, country)
            phone_zones = tuple(
                zones_for_phone(value, region_code) for _id, value, _ in phones if value is not None
            )
        else:
            region_code = phone_region_of(jurisdiction, country)
            phone_zones = tuple(
                known[point_id] if point_id in known else zones_for_phone(value, region_code)
                for point_id, value, _ in phones
                if value is not None
            )
        facts = (jurisdiction, timezone, country, region, postal_code, phone_zones)
        keyed = self.zone_keys.get(facts)
        if keyed is None:
            zones, primary = zones_from_parts(*facts)
            keyed = self.zone_keys[facts] = ("\x1f".join(zones), primary)
            out.zone_sets[keyed[0]] = zones

        out.case_index.append(index)
        out.debtor_id.append(debtor_id)
        out.jurisdiction.append(jurisdiction)
        out.zkey.append(keyed[0])
        out.primary.append(keyed[1])
        out.plain.append(True)
        out.deceased.append(deceased)
        out._add_quiet(ranges)
        if debt_ids:
            out.debt_debtor.extend([debtor_id] * len(debt_ids))
            out.debt_id.extend(debt_ids)

    def strings_are_clean(self) -> bool:
        """No string read would be changed by the model's whitespace stripping."""
        out = self.out
        return not any(
            _has_edge_space(strings)
            for strings in (out.debtor_id, out.person_id, out.point_id, out.debt_id, self.extra)
        )


def _read(cases: Sequence[Any], careful: bool) -> tuple[CaseColumns, _Reader]:
    reader = _Reader(CaseColumns(), careful)
    read, fallback = reader.read, reader.out.fallback
    for index, case in enumerate(cases):
        try:
            read(index, case)
        except _NotPlain:
            fallback.append(index)
    return reader.out, reader


def read_cases(cases: Sequence[Any]) -> CaseColumns:
    """Read the cases in the common shape into columns; the others are listed in ``fallback``.

    A case is read here only when pydantic would accept it unchanged; the caller validates the
    ``fallback`` cases with the models and adds them with :meth:`CaseColumns.add_validated`.
    """
    out, reader = _read(cases, careful=False)
    if reader.strings_are_clean():
        return out
    # Rare: some string has surrounding whitespace; read again, checking each string, so that
    # only the cases holding one go to the full validation.
    return _read(cases, careful=True)[0]


# Every character ``str.isspace`` (hence pydantic's whitespace stripping) treats as whitespace.
_SPACE_CLASS = "".join(
    f"\\x{{{code:x}}}" for code in range(0x110000) if chr(code).isspace()
)  # fmt: skip
_EDGE_SPACE = f"^[{_SPACE_CLASS}]|[{_SPACE_CLASS}]$"


def _clean(column: str) -> pl.Expr:
    """A string the models would keep unchanged (null counts as clean: the caller decides)."""
    return ~pl.col(column).str.contains(_EDGE_SPACE).fill_null(False)


@dataclass(frozen=True, slots=True, eq=False)
class CaseTable(Sequence[Mapping[str, Any]]):
    """The batch form's cases as columns, for callers that hold them as tables (the daily cycle).

    ``debtors``: one row per case, in case order: ``debtor_id``, ``jurisdiction``, ``timezone``,
    ``country``, ``region``, ``city`` (strings, nullable but the first two). ``points``: the
    debtor's contact points, in order: ``debtor_id``, ``id``, ``kind``, ``place``, ``value``.
    ``debts``: ``debtor_id``, ``id`` and, when disputed, ``dispute_received_at`` (an aware
    instant) and ``dispute_in_writing``. ``flags``: the debtor's flags mapping, by debtor id, for
    the debtors that have any. Indexing gives the mapping of one case, exactly as
    :func:`arrears.compliance.check_batch` reads it: ``{"debtor": {..., "address": {...},
    "contact_points": [...], "flags": {...}}, "debts": [...]}``.
    """

    debtors: pl.DataFrame
    points: pl.DataFrame
    debts: pl.DataFrame
    flags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.debtors.height

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> Mapping[str, Any] | Sequence[Mapping[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        debtor_id, jurisdiction, timezone, country, region, city = self.debtors.select(
            "debtor_id", "jurisdiction", "timezone", "country", "region", "city"
        ).row(index)
        points = self.points.filter(pl.col("debtor_id") == debtor_id)
        owed = self.debts.filter(pl.col("debtor_id") == debtor_id)
        debts: list[dict[str, Any]] = []
        for row in owed.iter_rows(named=True):
            debt: dict[str, Any] = {"id": row["id"]}
            if row.get("dispute_received_at") is not None:
                debt["dispute"] = {
                    "received_at": row["dispute_received_at"].astimezone(dt.UTC).isoformat(),
                    "in_writing": bool(row["dispute_in_writing"]),
                }
            debts.append(debt)
        return {
            "debtor": {
                "id": debtor_id,
                "jurisdiction": jurisdiction,
                "timezone": timezone,
                "address": {"country": country, "region": region, "city": city},
                "contact_points": [
                    {"id": i, "kind": k, "place": p, "value": v}
                    for i, k, p, v in points.select("id", "kind", "place", "value").iter_rows()
                ],
                "flags": dict(self.flags.get(debtor_id, {})),
            },
            "debts": debts,
        }


def read_case_table(table: CaseTable) -> CaseColumns:
    """:func:`read_cases` for a :class:`CaseTable`: the common shape read over whole columns.

    A case is read over columns when it has no flags and no disputed debt and every value passes
    the reader's checks (exact strings without surrounding whitespace, a jurisdiction matching the
    model's pattern, a zone ``zoneinfo`` knows, known contact kinds and places); the phone numbers'
    zones are resolved over the whole column. Every other case goes through the mapping reader
    (its mapping built from the table), and from there, if need be, to the full validation. The
    columns are those :func:`read_cases` gives for the same cases (a tested property).
    """
    text = pl.String
    debtors = (
        table.debtors.cast(
            {c: text for c in ("debtor_id", "jurisdiction", "timezone", "country", "region", "city")}
        )
        .with_row_index("_case")
        .with_columns(pl.col("_case").cast(pl.Int64))
    )
    cases = debtors.select("debtor_id", "_case")
    points = table.points.cast({c: text for c in ("debtor_id", "id", "kind", "place", "value")}).join(
        cases, on="debtor_id", how="left", maintain_order="left"
    )
    debts = table.debts.cast({"debtor_id": text, "id": text}).join(
        cases, on="debtor_id", how="left", maintain_order="left"
    )
    zones_ok = {name: _zone_ok(name) for name in debtors["timezone"].drop_nulls().unique().to_list()}
    bad_points = points.filter(
        ~(
            pl.col("kind").is_in(list(_KINDS)).fill_null(False)
            & pl.col("place").is_in(list(_PLACES)).fill_null(False)
            & pl.col("id").is_not_null()
            & pl.col("value").is_not_null()
            & _clean("id")
            & _clean("value")
        )
    )["_case"]
    has_dispute = (
        pl.col("dispute_received_at").is_not_null()
        if "dispute_received_at" in debts.columns
        else pl.lit(False)
    )
    bad_debts = debts.filter(~(pl.col("id").is_not_null() & _clean("id")) | has_dispute)["_case"]
    flagged = [debtor_id for debtor_id, flags in table.flags.items() if flags]
    plain = debtors.filter(
        pl.col("debtor_id").is_not_null()
        & _clean("debtor_id")
        & pl.col("jurisdiction").str.contains(f"^(?:{_JURISDICTION.pattern})$").fill_null(False)
        & (
            pl.col("timezone").is_null()
            | pl.col("timezone").replace_strict(zones_ok, default=False, return_dtype=pl.Boolean)
        )
        & _clean("country")
        & _clean("region")
        & _clean("city")
        & ~pl.col("_case").is_in(bad_points.implode())
        & ~pl.col("_case").is_in(bad_debts.implode())
        & ~pl.col("debtor_id").is_in(pl.Series(flagged, dtype=pl.String).implode())
    )
    out = CaseColumns()
    # Zones: each phone number in the region the engine reads it in, over the whole column.
    # Worked out once per distinct (jurisdiction, country) and joined back (a missing country
    # matches a missing country).
    regions = plain.select("jurisdiction", "country").unique(maintain_order=True)
    regions = regions.with_columns(
        pl.Series("_phone_region", [phone_region_of(j, c) for j, c in regions.iter_rows()], dtype=pl.String)
    )
    plain = plain.join(
        regions, on=["jurisdiction", "country"], how="left", maintain_order="left", nulls_equal=True
    )
    plain_points = points.join(
        plain.select("_case", "_phone_region"), on="_case", how="inner", maintain_order="left"
    )
    phones = plain_points.filter(pl.col("kind") == _PHONE)
    phones = phones.with_columns(
        zones_for_phone_column(phones["value"], phones["_phone_region"]).alias("_zones")
    )
    phone_keys = phones.group_by("_case", maintain_order=True).agg(
        pl.len().alias("_n"), pl.col("_zones").list.join("\x1f").str.join("\x1e").alias("_joined")
    )  # fmt: skip
    facts = plain.join(phone_keys, on="_case", how="left", maintain_order="left").with_columns(
        pl.format("{}:{}", pl.col("_n").fill_null(0), pl.col("_joined").fill_null("")).alias("_phones")
    )
    # The zones of each distinct set of facts, joined back onto the cases (missing facts match).
    facts_key = ["jurisdiction", "timezone", "country", "region", "_phones"]
    distinct = facts.select(facts_key).unique(maintain_order=True)
    zkeys: list[str] = []
    primaries: list[str] = []
    for j, tz, country, region, phones_key in distinct.iter_rows():
        count, joined = phones_key.split(":", 1)
        phone_zones = (
            tuple(tuple(part.split("\x1f")) if part else () for part in joined.split("\x1e"))
            if int(count)
            else ()
        )
        zones, primary = zones_from_parts(j, tz, country, region, None, phone_zones)
        key = "\x1f".join(zones)
        out.zone_sets[key] = zones
        zkeys.append(key)
        primaries.append(primary)
    facts = facts.join(
        distinct.with_columns(
            pl.Series("_zkey", zkeys, dtype=pl.String), pl.Series("_primary", primaries, dtype=pl.String)
        ),
        on=facts_key,
        how="left",
        maintain_order="left",
        nulls_equal=True,
    )
    n = facts.height
    out.case_index = facts["_case"].to_list()
    out.debtor_id = facts["debtor_id"].to_list()
    out.jurisdiction = facts["jurisdiction"].to_list()
    out.zkey = facts["_zkey"].to_list()
    out.primary = facts["_primary"].to_list()
    out.plain = [True] * n
    out.deceased = [False] * n
    out.quiet = [None] * n
    out.person_debtor = list(out.debtor_id)
    out.person_id = list(out.debtor_id)
    out.person_role = [_DEBTOR] * n
    out.point_debtor = plain_points["debtor_id"].to_list()
    out.point_person = list(out.point_debtor)
    out.point_id = plain_points["id"].to_list()
    out.point_kind = plain_points["kind"].to_list()
    out.point_place = plain_points["place"].to_list()
    plain_debts = debts.join(plain.select("_case"), on="_case", how="semi", maintain_order="left")
    out.debt_debtor = plain_debts["debtor_id"].to_list()
    out.debt_id = plain_debts["id"].to_list()
    # The other cases through the mapping reader, string by string.
    reader = _Reader(out, careful=True)
    for index in debtors.join(plain.select("_case"), on="_case", how="anti")["_case"].to_list():
        try:
            reader.read(index, table[index])
        except _NotPlain:
            out.fallback.append(index)
    return out
