"""Where the debtor may be, and when a local-time window is open there.

Zones come from three kinds of evidence: the IANA name on file, the postal address and the
phone numbers (``phonenumbers``' prefix-to-zone data). When they disagree the engine treats every
zone as plausible and a window must be open in all of them (Official Interpretation to
12 CFR 1006.6(b)(1)(i): a time convenient in all locations where the consumer might be).

Windows are daily local wall-clock ranges, half-open ``[start, end)`` (the engine convention of
regulation reference §5); DST is handled by ``zoneinfo`` on every conversion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import polars as pl
from phonenumbers import timezone as phone_timezone
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

__all__ = [
    "UTC",
    "DayWindow",
    "in_window",
    "local_date",
    "next_open",
    "start_of_day",
    "zone",
    "zones_for_address",
    "zones_for_phone",
    "zones_for_phone_column",
]

UTC = dt.UTC
_DAY = 86_400

# A non-geographic number (toll-free, some mobile ranges) maps to many zones; it is no evidence.
_MAX_PHONE_ZONES = 3

# Seconds-of-day intervals [start, end) within one local calendar day.
DayWindow = tuple[tuple[int, int], ...]


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """A cached ``ZoneInfo``."""
    return ZoneInfo(name)


# Sized for a daily cycle: parsing a number costs tens of microseconds, and the same numbers
# come back every day.
@lru_cache(maxsize=1 << 18)
def zones_for_phone(value: str, default_region: str | None = None) -> tuple[str, ...]:
    """The zones a phone number's prefix may be in (empty when unknown or non-geographic)."""
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        return ()
    found = tuple(z for z in phone_timezone.time_zones_for_number(number) if z != "Etc/Unknown")
    if len(found) > _MAX_PHONE_ZONES:
        return ()
    return found


_NY, _CHI, _DEN, _PHX, _LA = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    ("America/Los_Angeles"),
)
_US_STATES: dict[str, tuple[str, ...]] = {
    "AL": (_CHI,), "AK": ("America/Anchorage", "America/Adak"), "AZ": (_PHX, _DEN), "AR": (_CHI,),
    "CA": (_LA,), "CO": (_DEN,), "CT": (_NY,), "DE": (_NY,), "DC": (_NY,), "FL": (_NY, _CHI),
    "GA": (_NY,), "HI": ("Pacific/Honolulu",), "ID": ("America/Boise", _LA), "IL": (_CHI,),
    "IN": ("America/Indiana/Indianapolis", _CHI), "IA": (_CHI,), "KS": (_CHI, _DEN),
    "KY": (_NY, _CHI), "LA": (_CHI,), "ME": (_NY,), "MD": (_NY,), "MA": (_NY,),
    "MI": ("America/Detroit", "America/Menominee"), "MN": (_CHI,), "MS": (_CHI,), "MO": (_CHI,),
    "MT": (_DEN,), "NE": (_CHI, _DEN), "NV": (_LA,), "NH": (_NY,), "NJ": (_NY,), "NM": (_DEN,),
    "NY": (_NY,), "NC": (_NY,), "ND": (_CHI, _DEN), "OH": (_NY,), "OK": (_CHI,), "OR": (_LA, "America/Boise"),
    "PA": (_NY,), "RI": (_NY,), "SC": (_NY,), "SD": (_CHI, _DEN), "TN": (_CHI, _NY), "TX": (_CHI, _DEN),
    "UT": (_DEN,), "VT": (_NY,), "VA": (_NY,), "WA": (_LA,), "WV": (_NY,), "WI": (_CHI,), "WY": (_DEN,),
    "PR": ("America/Puerto_Rico",), "GU": ("Pacific/Guam",), "VI": ("America/St_Thomas",),
}  # fmt: skip

# ZIP prefixes that settle the zone inside a state that spans two (the first zone of the state
# applies to the other prefixes of that state once a postal code is known).
_US_ZIP_ZONES: dict[str, dict[str, str]] = {
    "FL": {"324": _CHI, "325": _CHI},
    "TX": {"798": _DEN, "799": _DEN, "885": _DEN},
    "TN": {p: _NY for p in ("373", "374", "376", "377", "378", "379")},
    "KY": {p: _CHI for p in ("420", "421", "422", "423", "424", "427")},
    "IN": {p: _CHI for p in ("463", "464", "476", "477")},
    "MI": {"498": "America/Menominee", "499": "America/Menominee"},
    "ID": {p: _LA for p in ("835", "838")},
    "OR": {"979": "America/Boise"},
    "NE": {p: _DEN for p in ("690", "691", "693")},
    "KS": {"677": _DEN},
    "SD": {p: _DEN for p in ("577",)},
    "ND": {},
    "AZ": {},
    "AK": {},
}

_COUNTRY_ZONES = {"CN": ("Asia/Shanghai",), "GB": ("Europe/London",), "UK": ("Europe/London",)}


@lru_cache(maxsize=1024)
def zones_for_address(country: str | None, region: str | None, postal_code: str | None) -> tuple[str, ...]:
    """The zones an address may be in: one when it is settled, several when only the state is known."""
    country = (country or "").upper()
    if country in _COUNTRY_ZONES:
        return _COUNTRY_ZONES[country]
    if country == "US":
        state = (region or "").upper()
        zones = _US_STATES.get(state, ())
        if len(zones) > 1 and postal_code and state in _US_ZIP_ZONES:
            return (_US_ZIP_ZONES[state].get(postal_code.strip()[:3], zones[0]),)
        return zones
    if not country:
        return ()
    example = phonenumbers.example_number(country)
    if example is None:
        return ()
    found = tuple(z for z in phone_timezone.time_zones_for_number(example) if z != "Etc/Unknown")
    return found if len(found) <= _MAX_PHONE_ZONES else ()


def local_date(instant: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The calendar date of an instant in a zone."""
    return instant.astimezone(tz).date()


def start_of_day(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant at which a local calendar day begins."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(UTC)


def _seconds(value: dt.time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def _ranges(ranges: Iterable[tuple[dt.time, dt.time]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in ranges:
        s, e = _seconds(start), _seconds(end)
        if s == e:  # a range that starts where it ends covers the whole day
            out.append((0, _DAY))
            continue
        if e > s:
            out.append((s, e))
        else:  # wraps past midnight: the evening part and the early-morning part of each day
            out.append((s, _DAY))
            out.append((0, e))
    return out


def _union(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _subtract(base: list[tuple[int, int]], cut: list[tuple[int, int]]) -> list[tuple[int, int]]:
    result = base
    for cs, ce in cut:
        nxt: list[tuple[int, int]] = []
        for s, e in result:
            if ce <= s or cs >= e:
                nxt.append((s, e))
                continue
            if s < cs:
                nxt.append((s, cs))
            if ce < e:
                nxt.append((ce, e))
        result = nxt
    return result


@lru_cache(maxsize=1024)
def day_window(
    allowed: tuple[tuple[dt.time, dt.time], ...], blocked: tuple[tuple[dt.time, dt.time], ...] = ()
) -> DayWindow:
    """The open seconds of a local day: the union of ``allowed`` minus ``blocked``."""
    return tuple(_subtract(_union(_ranges(allowed)), _union(_ranges(blocked))))


def in_window(instant: dt.datetime, tz: ZoneInfo, window: DayWindow) -> bool:
    """Whether the instant's local wall-clock time in ``tz`` falls in the window."""
    local = instant.astimezone(tz)
    secs = local.hour * 3600 + local.minute * 60 + local.second
    if local.microsecond:
        secs_f = secs + local.microsecond / 1e6
        return any(s <= secs_f < e for s, e in window)
    return any(s <= secs < e for s, e in window)


def _wall(day: dt.date, secs: int, tz: ZoneInfo) -> dt.datetime:
    if secs >= _DAY:
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz).astimezone(UTC)
    hours, rest = divmod(secs, 3600)
    return dt.datetime.combine(day, dt.time(hours, rest // 60, rest % 60), tzinfo=tz).astimezone(UTC)


@lru_cache(maxsize=8192)
def _utc_intervals(
    tz_name: str, day: dt.date, window: DayWindow
) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    tz = zone(tz_name)
    return tuple((_wall(day, s, tz), _wall(day, e, tz)) for s, e in window)


def _intersect(
    a: Sequence[tuple[dt.datetime, dt.datetime]], b: Sequence[tuple[dt.datetime, dt.datetime]]
) -> list[tuple[dt.datetime, dt.datetime]]:
    out: list[tuple[dt.datetime, dt.datetime]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def next_open(
    instant: dt.datetime, zones: Sequence[str], window: DayWindow, horizon_days: int = 14
) -> dt.datetime | None:
    """The earliest instant at or after ``instant`` when the window is open in every zone.

    ``None`` when no such instant exists within ``horizon_days`` (e.g. zones too far apart).
    """
    if not window:
        return None
    if all(in_window(instant, zone(z), window) for z in zones):
        return instant
    common: list[tuple[dt.datetime, dt.datetime]] | None = None
    for name in zones:
        first = local_date(instant, zone(name)) - dt.timedelta(days=1)
        spans: list[tuple[dt.datetime, dt.datetime]] = []
        for offset in range(horizon_days + 2):
            for span in _utc_intervals(name, first + dt.timedelta(days=offset), window):
                if spans and span[0] <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], span[1]))
                else:
                    spans.append(span)
        common = spans if common is None else _intersect(common, spans)
    for start, end in common or ():
        if end > instant:
            return max(start, instant)
    return None


# ``+`` and the country code and number in ASCII digits: the form numbers are stored in. For these
# the default region plays no part in parsing, so the zones follow from the digits alone.
_E164_DIGITS = r"^\+[1-9][0-9]{3,19}$"


@lru_cache(maxsize=1)
def _timezone_prefixes() -> tuple[dict[int, dict[str, int]], list[tuple[str, ...]]]:
    """``phonenumbers``' prefix-to-zones table as {prefix length: {prefix: index}} and the zone lists."""
    lists: list[tuple[str, ...]] = []
    index_of: dict[tuple[str, ...], int] = {}
    by_length: dict[int, dict[str, int]] = {}
    for prefix, zones in TIMEZONE_DATA.items():
        key = tuple(zones)
        if key not in index_of:
            index_of[key] = len(lists)
            lists.append(key)
        by_length.setdefault(len(prefix), {})[prefix] = index_of[key]
    return by_length, lists


def _desc_matches(number: pl.Expr, desc: object) -> pl.Expr:
    """``phonenumbers``' ``_is_number_matching_desc``: a possible length and a full match of the pattern."""
    pattern = getattr(desc, "national_number_pattern", None) if desc is not None else None
    if not pattern:
        return pl.lit(False)
    lengths = tuple(getattr(desc, "possible_length", ()) or ())
    full = number.str.contains(f"^(?:{pattern})$")
    return number.str.len_chars().is_in(list(lengths)) & full if lengths else full


def _country_level_zones(country_code: int) -> tuple[str, ...]:
    cc = str(country_code)
    for length in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        found = TIMEZONE_DATA.get(cc[: 1 + length])
        if found is not None:
            return tuple(found)
    return ("Etc/Unknown",)


def _kept(zones: Sequence[str]) -> tuple[str, ...]:
    # As zones_for_phone: the unknown zone is no evidence, nor are more than a few zones.
    found = tuple(z for z in zones if z != "Etc/Unknown")
    return found if len(found) <= _MAX_PHONE_ZONES else ()


def _country_frame(frame: pl.DataFrame, country_code: int) -> pl.DataFrame | None:
    """Zones of the numbers of one country code, by whole-column pattern matching.

    ``None`` when the country's rules are not all expressible here (shared country codes, rules
    the column regex engine reads differently): its numbers are then parsed one by one. Rows whose
    national number ``phonenumbers`` would rewrite (a national prefix, leading zeros, odd lengths)
    get a null and are parsed one by one too.
    """
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    if len(regions) != 1 or regions[0] == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
    if metadata is None:
        return None
    nsn = pl.col("value").str.slice(1 + len(str(country_code)))
    simple = nsn.str.len_chars().is_between(2, 17) & ~nsn.str.starts_with("0")
    prefix = metadata.national_prefix_for_parsing
    if prefix:
        simple = simple & ~nsn.str.contains(f"^(?:{prefix})")
    descs = (metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
             metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail)  # fmt: skip
    geo_mobile = country_code in phonenumbers.phonenumberutil._GEO_MOBILE_COUNTRIES
    # _number_type_helper in its order; 0 unknown, 1 geographic, 2 not geographic.
    fixed = _desc_matches(nsn, metadata.fixed_line)
    mobile = _desc_matches(nsn, metadata.mobile)
    kind: Any = pl.when(~_desc_matches(nsn, metadata.general_desc)).then(0)
    for desc in descs:
        kind = kind.when(_desc_matches(nsn, desc)).then(2)
    kind = kind.when(fixed).then(1)
    mobile_kind = 1 if geo_mobile else 2
    if not metadata.same_mobile_and_fixed_line_pattern:
        kind = kind.when(mobile).then(mobile_kind)
    try:
        typed = frame.select(
            "_i", "value", pl.when(simple).then(kind.otherwise(0)).otherwise(None).alias("_kind")
        )
    except pl.exceptions.ComputeError:  # a pattern the column regex engine does not take
        return None
    by_length, lists = _timezone_prefixes()
    digits = pl.col("value").str.slice(1)
    found = pl.lit(None, dtype=pl.Int64)
    for length in sorted(by_length, reverse=True):
        if length > TIMEZONE_LONGEST_PREFIX:
            continue
        table = {k: v for k, v in by_length[length].items() if k.startswith(str(country_code))}
        if table:
            found = pl.coalesce(
                found, digits.str.slice(0, length).replace_strict(table, default=None, return_dtype=pl.Int64)
            )
    unknown = len(lists)
    country = len(lists) + 1
    zone_lists = [*(list(_kept(z)) for z in lists), [], list(_kept(_country_level_zones(country_code)))]
    return typed.select(
        "_i",
        pl.when(pl.col("_kind").is_null())
        .then(None)
        .when(pl.col("_kind") == 0)
        .then(unknown)
        .when(pl.col("_kind") == 2)
        .then(country)
        .otherwise(found.fill_null(unknown))
        .alias("_zones"),
    ).with_columns(
        pl.col("_zones").replace_strict(
            dict(enumerate(zone_lists)), default=None, return_dtype=pl.List(pl.String)
        )
    )


def zones_for_phone_column(values: pl.Series, default_regions: pl.Series) -> pl.Series:
    """:func:`zones_for_phone` of every value (with the default region beside it), as lists.

    Numbers stored as ``+`` and digits are judged over whole columns, per country code, with the
    patterns and prefix table ``phonenumbers`` itself reads; any other value, and any number whose
    parsing these columns do not reproduce, is parsed one by one. The results are those of
    :func:`zones_for_phone` (a tested property).
    """
    frame = pl.DataFrame(
        {"value": values.cast(pl.String), "region": default_regions.cast(pl.String)}
    ).with_row_index("_i")
    plain = frame.filter(pl.col("value").str.contains(_E164_DIGITS).fill_null(False))
    heads = plain.select(pl.col("value").str.slice(1, 3).alias("head")).unique()
    code_of: dict[str, int] = {}
    for (head,) in heads.iter_rows():
        for size in range(1, 4):
            if int(head[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                code_of[head] = int(head[:size])
                break
    plain = plain.with_columns(
        pl.col("value")
        .str.slice(1, 3)
        .replace_strict(code_of, default=None, return_dtype=pl.Int64)
        .alias("_cc")
    )
    parts = []
    for (code,), part in plain.filter(pl.col("_cc").is_not_null()).partition_by("_cc", as_dict=True).items():
        judged = _country_frame(part, int(code))
        if judged is not None:
            parts.append(judged)
    schema: dict[str, Any] = {"_i": pl.UInt32, "_zones": pl.List(pl.String)}
    done = pl.concat([pl.DataFrame(schema=schema), *parts]).filter(pl.col("_zones").is_not_null())
    rest = frame.join(done, on="_i", how="anti")
    parsed = pl.DataFrame(
        {
            "_i": rest["_i"],
            "_zones": [
                list(zones_for_phone(value, region)) if value is not None else []
                for value, region in rest.select("value", "region").iter_rows()
            ],
        },
        schema=schema,
    )
    return pl.concat([done, parsed]).sort("_i")["_zones"].alias(values.name)
