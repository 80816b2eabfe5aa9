"""Business-day calendars (CN, US, GB) and the Reg F validation period."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.calendars import (
    BusinessCalendar,
    add_business_days,
    business_days_between,
    get_calendar,
    is_business_day,
    next_business_day,
    previous_business_day,
    validation_period_end,
)
from arrears.errors import ValidationError

# -- jurisdictions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "subdivision"),
    [
        ("CN", "CN", None),
        ("US", "US", None),
        ("us-ny", "US-NY", "NY"),
        ("GB", "GB-ENG", "ENG"),
        ("UK", "GB-ENG", "ENG"),
        ("GB-SCT", "GB-SCT", "SCT"),
        (" gb_wls ", "GB-WLS", "WLS"),
    ],
)
def test_get_calendar_parses_jurisdictions(text: str, label: str, subdivision: str | None) -> None:
    cal = get_calendar(text)
    assert cal.jurisdiction == label
    assert cal.subdivision == subdivision
    assert get_calendar(cal) is cal


def test_calendar_objects_are_cached() -> None:
    assert get_calendar("US-NY") is get_calendar("US-NY")


@pytest.mark.parametrize("text", ["XX", "US-ZZ", "", "   "])
def test_unknown_jurisdiction_is_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        get_calendar(text)
    assert info.value.fields["field"] == "calendar"


# -- holidays and weekends ----------------------------------------------------------------------


def test_china_make_up_working_weekends_are_business_days() -> None:
    # 2026 Spring Festival per the State Council's 放假安排: 15-23 Feb off; Sat 14 and Sat 28 Feb worked.
    cn = get_calendar("CN")
    assert date(2026, 2, 14).weekday() == 5
    assert cn.is_make_up_workday(date(2026, 2, 14))
    assert is_business_day(date(2026, 2, 14), "CN")
    assert is_business_day(date(2026, 2, 28), "CN")
    assert not is_business_day(date(2026, 2, 16), "CN")  # 除夕, a Monday
    assert not is_business_day(date(2026, 2, 23), "CN")  # substitute day off, a Monday
    assert not is_business_day(date(2026, 2, 15), "CN")  # an ordinary Sunday
    assert is_business_day(date(2026, 2, 24), "CN")
    # The same Saturday is no business day in the US.
    assert not is_business_day(date(2026, 2, 14), "US")


def test_china_spring_festival_business_day_arithmetic() -> None:
    # Fri 13 Feb -> Sat 14 Feb (make-up day) is the next business day; then 15-23 Feb are off.
    assert next_business_day(date(2026, 2, 13), "CN") == date(2026, 2, 14)
    assert add_business_days(date(2026, 2, 13), 2, "CN") == date(2026, 2, 24)
    # (13 Feb, 28 Feb]: 14, 24, 25, 26, 27, 28.
    assert business_days_between(date(2026, 2, 13), date(2026, 2, 28), "CN") == 6
    assert [d for d in _days(date(2026, 2, 14), date(2026, 2, 28)) if is_business_day(d, "CN")] == [
        date(2026, 2, 14),
        date(2026, 2, 24),
        date(2026, 2, 25),
        date(2026, 2, 26),
        date(2026, 2, 27),
        date(2026, 2, 28),
    ]


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def test_us_federal_and_state_holidays() -> None:
    assert not is_business_day(date(2026, 11, 26), "US")  # Thanksgiving
    assert not is_business_day(date(2026, 6, 19), "US")  # Juneteenth
    assert not is_business_day(date(2026, 7, 3), "US")  # Independence Day observed (4 Jul is a Saturday)
    assert is_business_day(date(2026, 2, 12), "US")
    assert not is_business_day(date(2026, 2, 12), "US-NY")  # Lincoln's Birthday, a New York holiday
    assert get_calendar("US").holiday_name(date(2026, 11, 26)) == "Thanksgiving Day"
    assert get_calendar("US").holiday_name(date(2026, 11, 27)) is None


def test_gb_england_and_scotland_differ() -> None:
    # Easter Monday is a bank holiday in England & Wales, not in Scotland; 2 Jan the reverse.
    assert not is_business_day(date(2026, 4, 6), "GB")
    assert is_business_day(date(2026, 4, 6), "GB-SCT")
    assert is_business_day(date(2026, 1, 2), "GB")
    assert not is_business_day(date(2026, 1, 2), "GB-SCT")
    assert not is_business_day(date(2026, 12, 28), "GB-ENG")  # Boxing Day substitute


# -- arithmetic ---------------------------------------------------------------------------------


def test_add_business_days_over_thanksgiving() -> None:
    # Wed 25 Nov 2026 + 1: Thu 26 is Thanksgiving, so Fri 27; + 2 skips the weekend to Mon 30.
    assert add_business_days(date(2026, 11, 25), 1, "US") == date(2026, 11, 27)
    assert add_business_days(date(2026, 11, 25), 2, "US") == date(2026, 11, 30)
    assert add_business_days(date(2026, 11, 30), -2, "US") == date(2026, 11, 25)
    assert add_business_days(date(2026, 11, 28), 0, "US") == date(2026, 11, 28)


def test_next_and_previous_business_day() -> None:
    assert next_business_day(date(2026, 12, 24), "US") == date(2026, 12, 28)
    assert next_business_day(date(2026, 12, 25), "US", inclusive=True) == date(2026, 12, 28)
    assert next_business_day(date(2026, 12, 28), "US", inclusive=True) == date(2026, 12, 28)
    assert next_business_day(date(2026, 12, 28), "US") == date(2026, 12, 29)
    assert previous_business_day(date(2026, 12, 28), "US") == date(2026, 12, 24)
    assert previous_business_day(date(2026, 12, 26), "US", inclusive=True) == date(2026, 12, 24)


def test_business_days_between() -> None:
    # (Mon 21 Dec, Mon 4 Jan 2027]: 22, 23, 24, 28, 29, 30, 31, 4 -> 8 (25 Dec and 1 Jan are holidays).
    assert business_days_between(date(2026, 12, 21), date(2027, 1, 4), "US") == 8
    assert business_days_between(date(2027, 1, 4), date(2026, 12, 21), "US") == -8
    assert business_days_between(date(2026, 12, 21), date(2026, 12, 21), "US") == 0


@settings(max_examples=60, deadline=None)
@given(
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    n=st.integers(min_value=-40, max_value=40),
    jurisdiction=st.sampled_from(["CN", "US", "US-NY", "GB-ENG", "GB-SCT"]),
)
def test_add_and_between_are_inverse(day: date, n: int, jurisdiction: str) -> None:
    target = add_business_days(day, n, jurisdiction)
    assert business_days_between(day, target, jurisdiction) == n
    if n != 0:
        assert is_business_day(target, jurisdiction)
        assert (target > day) == (n > 0)


# -- Reg F validation period, 12 CFR 1006.34(b)(5) -----------------------------------------------


def test_validation_period_around_thanksgiving_2026() -> None:
    # Provided Mon 23 Nov. Counting: Tue 24 (1), Wed 25 (2), Thu 26 Thanksgiving skipped,
    # Fri 27 (3), Sat 28 / Sun 29 skipped, Mon 30 (4), Tue 1 Dec (5) -> receipt 1 Dec.
    # Period end: 1 Dec + 30 days = 31 Dec 2026.
    assert validation_period_end(date(2026, 11, 23)) == (date(2026, 12, 1), date(2026, 12, 31))


def test_validation_period_over_christmas_2026() -> None:
    # Provided Tue 22 Dec. Wed 23 (1), Thu 24 (2), Fri 25 Christmas skipped, Sat 26 / Sun 27
    # skipped, Mon 28 (3), Tue 29 (4), Wed 30 (5) -> receipt 30 Dec; + 30 days = 29 Jan 2027.
    assert validation_period_end(date(2026, 12, 22)) == (date(2026, 12, 30), date(2027, 1, 29))


def test_validation_period_over_christmas_and_new_year() -> None:
    # Provided Thu 24 Dec. Fri 25 Christmas, Sat 26, Sun 27 skipped; Mon 28 (1), Tue 29 (2),
    # Wed 30 (3), Thu 31 (4); Fri 1 Jan 2027 New Year skipped, Sat 2 / Sun 3 skipped;
    # Mon 4 Jan (5) -> receipt 4 Jan 2027; + 30 days = 3 Feb 2027.
    assert validation_period_end(date(2026, 12, 24)) == (date(2027, 1, 4), date(2027, 2, 3))


def test_validation_period_over_juneteenth_2026() -> None:
    # Provided Mon 15 Jun. Tue 16 (1), Wed 17 (2), Thu 18 (3), Fri 19 Juneteenth skipped,
    # Sat 20 / Sun 21 skipped, Mon 22 (4), Tue 23 (5) -> receipt 23 Jun; + 30 days = 23 Jul.
    assert validation_period_end(date(2026, 6, 15)) == (date(2026, 6, 23), date(2026, 7, 23))


def test_validation_period_counts_an_observed_holiday_unless_told() -> None:
    # Independence Day 2026 is a Saturday, observed Fri 3 Jul; 6103(a) names 4 July itself.
    # Provided Mon 29 Jun: Tue 30 (1), Wed 1 Jul (2), Thu 2 (3), Fri 3 (4), Sat 4 / Sun 5 skipped,
    # Mon 6 (5) -> receipt 6 Jul; + 30 days = 5 Aug.
    assert validation_period_end(date(2026, 6, 29)) == (date(2026, 7, 6), date(2026, 8, 5))
    # Skipping the observed Friday as well: Mon 6 (4), Tue 7 (5) -> receipt 7 Jul, end 6 Aug.
    assert validation_period_end(date(2026, 6, 29), skip_observed_holidays=True) == (
        date(2026, 7, 7),
        date(2026, 8, 6),
    )


def test_validation_period_sunday_holiday_observed_monday() -> None:
    # Veterans Day 2029 is a Sunday, observed Mon 12 Nov. Provided Thu 8 Nov: Fri 9 (1),
    # Sat 10 / Sun 11 skipped, Mon 12 (2, not a legal public holiday), Tue 13 (3), Wed 14 (4),
    # Thu 15 (5) -> receipt 15 Nov; + 30 days = 15 Dec 2029.
    assert validation_period_end(date(2029, 11, 8)) == (date(2029, 11, 15), date(2029, 12, 15))
    assert validation_period_end(date(2029, 11, 8), skip_observed_holidays=True)[0] == date(2029, 11, 16)


def test_validation_period_provided_on_a_weekend() -> None:
    # Provided Sat 7 Nov 2026. Sun 8 skipped, Mon 9 (1), Tue 10 (2), Wed 11 Veterans Day skipped,
    # Thu 12 (3), Fri 13 (4), Sat/Sun skipped, Mon 16 (5) -> receipt 16 Nov; + 30 days = 16 Dec.
    assert validation_period_end(date(2026, 11, 7)) == (date(2026, 11, 16), date(2026, 12, 16))


def test_validation_period_with_a_state_calendar_is_never_earlier() -> None:
    # Lincoln's Birthday (Thu 12 Feb 2026) is a New York holiday but not a legal public holiday.
    federal = validation_period_end(date(2026, 2, 9))
    new_york = validation_period_end(date(2026, 2, 9), "US-NY")
    # Federal: Tue 10 (1), Wed 11 (2), Thu 12 (3), Fri 13 (4), Mon 16 Washington's Birthday
    # skipped, Tue 17 (5). New York also skips Thu 12: Fri 13 (3), Tue 17 (4), Wed 18 (5).
    assert federal == (date(2026, 2, 17), date(2026, 3, 19))
    assert new_york == (date(2026, 2, 18), date(2026, 3, 20))


def test_validation_period_needs_a_us_calendar() -> None:
    with pytest.raises(ValidationError) as info:
        validation_period_end(date(2026, 11, 23), "CN")
    assert info.value.fields["field"] == "calendar"


def test_business_calendar_is_a_frozen_value() -> None:
    cal = BusinessCalendar(jurisdiction="US", country="US", subdivision=None)
    assert cal == get_calendar("US")
    with pytest.raises(AttributeError):
        cal.country = "CN"  # type: ignore[misc]
