"""Business days and public holidays per jurisdiction, and the Reg F validation period.

Holiday data comes from the ``holidays`` package. A jurisdiction is a country code, optionally
with a subdivision: ``"CN"``, ``"US"``, ``"US-NY"``, ``"GB-ENG"``. ``"GB"`` (and ``"UK"``) alone
mean England & Wales bank holidays (``GB-ENG``), the calendar most UK lenders run on.

China's 调休 make-up working days (a Saturday or Sunday worked in exchange for a longer holiday)
are business days here: ``holidays`` lists them in ``weekend_workdays`` for the years whose
State Council notice it carries. For later years it estimates the days off and lists no make-up
days, so a CN calendar far in the future is only an estimate.

Nothing here reads the clock; every function takes the day it works on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Final

import holidays

from arrears.errors import ValidationError

__all__ = [
    "BusinessCalendar",
    "CalendarLike",
    "add_business_days",
    "business_days_between",
    "get_calendar",
    "is_business_day",
    "next_business_day",
    "previous_business_day",
    "validation_period_end",
]

# Holiday tables are built for a block of years at a time and cached per
# (country, subdivision, first year, last year).
_YEAR_BLOCK: Final = 10
_DEFAULT_SUBDIVISION: Final[dict[str, str]] = {"GB": "ENG"}
_COUNTRY_ALIASES: Final[dict[str, str]] = {"UK": "GB"}
_SATURDAY: Final = 5
_SUNDAY: Final = 6
# 12 CFR 1006.34(b)(5): receipt may be assumed five days after providing, excluding legal public
# holidays, Saturdays and Sundays; the validation period ends 30 days after receipt.
_REG_F_RECEIPT_DAYS: Final = 5
_REG_F_VALIDATION_DAYS: Final = 30


@dataclass(frozen=True, slots=True)
class _HolidayTable:
    names: Mapping[date, str]
    make_up_workdays: frozenset[date]
    weekend: frozenset[int]


@lru_cache(maxsize=64)
def _holiday_table(
    country: str, subdivision: str | None, first_year: int, last_year: int, observed: bool
) -> _HolidayTable:
    table = holidays.country_holidays(
        country, subdiv=subdivision, years=range(first_year, last_year + 1), observed=observed
    )
    return _HolidayTable(
        names=dict(table.items()),
        make_up_workdays=frozenset(getattr(table, "weekend_workdays", ())),
        weekend=frozenset(table.weekend),
    )


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """The holidays and weekend of one jurisdiction. Build it with :func:`get_calendar`."""

    jurisdiction: str
    country: str
    subdivision: str | None

    def _table(self, day: date, *, observed: bool = True) -> _HolidayTable:
        first = day.year - day.year % _YEAR_BLOCK
        return _holiday_table(self.country, self.subdivision, first, first + _YEAR_BLOCK - 1, observed)

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name on ``day``, or ``None`` when it is not a public holiday."""
        return self._table(day).names.get(day)

    def is_holiday(self, day: date, *, observed: bool = True) -> bool:
        """Whether ``day`` is a public holiday.

        With ``observed`` (the default) the weekday on which a weekend holiday is observed, and
        substitute days off, count too; without it only the holiday's own date does.
        """
        return day in self._table(day, observed=observed).names

    def is_weekend(self, day: date) -> bool:
        """Whether ``day`` falls on the jurisdiction's weekend."""
        return day.weekday() in self._table(day).weekend

    def is_make_up_workday(self, day: date) -> bool:
        """Whether ``day`` is a weekend day worked in exchange for a holiday (China's 调休)."""
        return day in self._table(day).make_up_workdays

    def is_business_day(self, day: date) -> bool:
        """Not a holiday, and either a weekday or a make-up working day."""
        table = self._table(day)
        if day in table.names:
            return False
        return day.weekday() not in table.weekend or day in table.make_up_workdays


CalendarLike = BusinessCalendar | str


def _parse_jurisdiction(text: str) -> tuple[str, str | None]:
    cleaned = text.strip().upper().replace("_", "-")
    country, _, subdivision = cleaned.partition("-")
    country = _COUNTRY_ALIASES.get(country, country)
    return country, (subdivision or _DEFAULT_SUBDIVISION.get(country))


@lru_cache(maxsize=128)
def _calendar_for(text: str) -> BusinessCalendar:
    country, subdivision = _parse_jurisdiction(text)
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValidationError(
            f"unknown calendar {text!r}; use a country code such as CN, US, US-NY or GB-ENG",
            field="calendar",
            value=text,
        )
    if subdivision is not None and subdivision not in supported[country]:
        raise ValidationError(
            f"unknown subdivision {subdivision!r} of {country} in calendar {text!r}",
            field="calendar",
            value=text,
        )
    label = country if subdivision is None else f"{country}-{subdivision}"
    return BusinessCalendar(jurisdiction=label, country=country, subdivision=subdivision)


def get_calendar(calendar: CalendarLike) -> BusinessCalendar:
    """The calendar of a jurisdiction string (``"CN"``, ``"US-NY"``, ``"GB"`` = ``"GB-ENG"``).

    An unknown country or subdivision raises :class:`ValidationError` on the ``calendar`` field.
    """
    if isinstance(calendar, BusinessCalendar):
        return calendar
    if not isinstance(calendar, str) or not calendar.strip():
        raise ValidationError("calendar must be a jurisdiction code such as CN or US-NY", field="calendar")
    return _calendar_for(calendar)


def is_business_day(day: date, calendar: CalendarLike) -> bool:
    """Whether ``day`` is a working day in ``calendar`` (make-up working weekends count)."""
    return get_calendar(calendar).is_business_day(day)


def add_business_days(day: date, n: int, calendar: CalendarLike) -> date:
    """The ``n``-th business day after ``day`` (before it when ``n`` is negative).

    ``day`` itself is never counted; ``n == 0`` returns ``day`` unchanged, business day or not.
    """
    cal = get_calendar(calendar)
    step = timedelta(days=1 if n > 0 else -1)
    remaining = abs(n)
    current = day
    while remaining:
        current += step
        if cal.is_business_day(current):
            remaining -= 1
    return current


def next_business_day(day: date, calendar: CalendarLike, *, inclusive: bool = False) -> date:
    """The first business day after ``day``; with ``inclusive`` ``day`` itself when it is one.

    ``inclusive=True`` is the usual rule for moving a due date that falls on a holiday.
    """
    cal = get_calendar(calendar)
    if inclusive and cal.is_business_day(day):
        return day
    return add_business_days(day, 1, cal)


def previous_business_day(day: date, calendar: CalendarLike, *, inclusive: bool = False) -> date:
    """The last business day before ``day``; with ``inclusive`` ``day`` itself when it is one."""
    cal = get_calendar(calendar)
    if inclusive and cal.is_business_day(day):
        return day
    return add_business_days(day, -1, cal)


def business_days_between(start: date, end: date, calendar: CalendarLike) -> int:
    """Business days from ``start`` to ``end``: those with ``start < d <= end``.

    When ``end`` is before ``start`` the count is negative: minus those with ``end <= d < start``.
    It is the inverse of :func:`add_business_days`:
    ``business_days_between(d, add_business_days(d, n, cal), cal) == n`` for every ``n``.
    """
    cal = get_calendar(calendar)
    if end < start:
        first, last, sign = end, start - timedelta(days=1), -1
    else:
        first, last, sign = start + timedelta(days=1), end, 1
    count = 0
    current = first
    while current <= last:
        if cal.is_business_day(current):
            count += 1
        current += timedelta(days=1)
    return sign * count


def validation_period_end(
    provided_on: date, calendar: CalendarLike = "US", *, skip_observed_holidays: bool = False
) -> tuple[date, date]:
    """The assumed receipt date and the last day of the validation period of a validation notice.

    12 CFR 1006.34(b)(5): a debt collector may assume the consumer receives the validation
    information on any date at least five days after providing it, counting no legal public
    holidays, Saturdays or Sundays; the validation period ends 30 days after that receipt date.
    Returns ``(assumed_receipt_on, period_end_on)``, the receipt date being the earliest the rule
    allows.

    Legal public holidays are those of 5 U.S.C. 6103(a) on their own dates: the weekday on which
    a Saturday or Sunday holiday is observed is not one (as Reg Z comment 2(a)(6)-2 reads the same
    list), so it is counted. ``skip_observed_holidays=True`` skips it as well, which moves both
    dates later, as the rule's "at least five days" allows. A US state calendar (``"US-NY"``)
    skips its state holidays too and so never gives an earlier date.
    """
    cal = get_calendar(calendar)
    if cal.country != "US":
        raise ValidationError(
            f"the Reg F validation period uses a US calendar, not {cal.jurisdiction}",
            field="calendar",
            value=cal.jurisdiction,
        )
    counted = 0
    current = provided_on
    while counted < _REG_F_RECEIPT_DAYS:
        current += timedelta(days=1)
        # Reg F names Saturdays and Sundays explicitly, whatever the calendar's weekend.
        if current.weekday() in (_SATURDAY, _SUNDAY):
            continue
        if not cal.is_holiday(current, observed=skip_observed_holidays):
            counted += 1
    return current, current + timedelta(days=_REG_F_VALIDATION_DAYS)
